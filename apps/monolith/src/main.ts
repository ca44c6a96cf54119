import { serve } from '../../shared/src/bootstrap';
import { loadMonolithConfig } from './config';
import { runMonolithDemo } from './demo/monolith-demo';
import { MonolithModule } from './monolith.module';

/** `node main.js` serves HTTP; `node main.js demo` runs the scripted demo and exits (non-zero on a mismatch). */
if (process.argv[2] === 'demo') {
  runMonolithDemo().then(
    (ok) => process.exit(ok ? 0 : 1),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else {
  serve('monolith', () => MonolithModule.forRoot(), loadMonolithConfig);
}
