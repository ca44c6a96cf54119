/** What a message is for: a command to a participant, or a participant's reply to the coordinator. */
export type MessageKind = 'command' | 'reply';

/** Which half of a step a command belongs to. */
export type StepPhase = 'invoke' | 'compensate';

/** Why a step failed, as it travels in a reply and as it is stored in the step log. */
export interface FailureInfo {
  /** Human-readable reason. */
  message: string;
  /** The error's class name, e.g. `StepFailure` or `QueryFailedError`. */
  name: string;
  /** True when retrying may succeed (infrastructure error, timeout); false for a business failure. */
  transient: boolean;
  /** The `details` of a `StepFailure`, when it had some. */
  details?: Record<string, unknown>;
}

/**
 * The envelope every saga message carries, whatever the transport. It is serialised as JSON once,
 * by the outbox, and parsed once, by the receiving transport.
 */
export interface SagaMessage {
  /** Unique per message; the receivers' inbox deduplicates on it. */
  messageId: string;
  kind: MessageKind;
  /** Command type (e.g. `ChargePayment`); for a reply, the type of the command it answers. */
  type: string;
  sagaId: string;
  sagaType: string;
  /** The step's name (the saga method's name). */
  step: string;
  phase: StepPhase;
  /** 1 for the first attempt of a step's phase, then 2, 3… on retries. */
  attempt: number;
  /**
   * Routing: for a command, the participant's name; for a reply, the coordinating service's name.
   */
  destination: string;
  /** The service name replies go to (commands only). */
  replyTo?: string;
  /** Command payload, or reply data on success. */
  payload: unknown;
  /** Replies only: how the command ended. */
  outcome?: 'success' | 'failure';
  /** Replies only, on failure. */
  failure?: FailureInfo;
  /** ISO timestamp of when the message was written to the outbox. */
  sentAt: string;
  /** W3C trace context, when the caller had one. */
  traceparent?: string;
}

/** The fields every valid envelope must have (checked by receiving transports before a handler sees it). */
export const REQUIRED_ENVELOPE_FIELDS = [
  'messageId',
  'kind',
  'type',
  'sagaId',
  'sagaType',
  'step',
  'phase',
  'attempt',
  'destination',
] as const satisfies readonly (keyof SagaMessage)[];
