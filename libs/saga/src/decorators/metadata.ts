/** Appends `entry` to a class-level metadata list (copying the parent's list, so subclasses do not mutate it). */
export function appendClassMetadata<T>(key: string, target: object, entry: T): void {
  const existing = (Reflect.getMetadata(key, target) as T[] | undefined) ?? [];
  Reflect.defineMetadata(key, [...existing, entry], target);
}
