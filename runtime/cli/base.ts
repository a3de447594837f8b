// Every command extends this: it turns a thrown error into one plain line on
// stderr and the exit code of DESIGN.md §6, so no stack trace reaches a user
// for an expected failure. Command files import only clipanion at load time;
// they import what they use inside run(), so `choragen --help` stays fast.
import { Command, Option } from 'clipanion';
import { describeError, exitCodeOf } from '../../policy/errors.js';
import { termText } from '../terminal/text.js';

export abstract class ChoragenCommand extends Command {
  /**
   * The process ends as soon as the command has returned and its output is
   * written, without waiting for worker threads to wind down: a run has
   * written everything it records synchronously, and awaited the rest.
   */
  static exitWhenDone = false;

  verbose = Option.Boolean('--verbose', false, { description: 'Print error details (stack traces)' });

  abstract run(): Promise<number | void>;

  /** One line on stderr that is not an error: why an answer came from elsewhere, a damaged log. */
  protected readonly note = (message: string): void => {
    this.context.stderr.write(`choragen: ${message}\n`);
  };

  async execute(): Promise<number> {
    try {
      return (await this.run()) ?? 0;
    } catch (err) {
      // A message may quote a file name or a file's content: through the terminal sanitizer.
      this.context.stderr.write(`choragen: ${termText(describeError(err, this.verbose))}\n`);
      return exitCodeOf(err);
    }
  }
}

/** Where the workspace is: --workspace, else found from the current directory (runtime/paths.ts resolveWorkspace). */
export const workspaceOption = () =>
  Option.String('--workspace,-w', { description: 'Workspace root (default: the nearest directory up from here with choragen.governance.yaml, else the git root)' });
