/**
 * The server's quantum: CPU time per turn of the event loop that long agendas and free-slot searches share.
 * Small enough that a turn stays short under any number of them, large enough that yielding (a turn costs
 * tens of microseconds) stays a small share of the work.
 */
export const CPU_QUANTUM_MS = 4;

/**
 * Time slicing of CPU-bound work on the one JavaScript thread, as an operating system schedules processes on
 * one core: every turn of the event loop gives the waiting tasks one shared quantum, then lets the loop go back
 * to its I/O (new requests, `/health`, sockets to write).
 *
 * A task runs in line ({@link TimeSlicer.run}), does a small unit of work (a day of an agenda), asks
 * {@link Slice.spent} and, when the quantum is used up, `await`s {@link Slice.pause}. The quantum belongs to the
 * turn, not to the task: ten long agendas being built at once share 4 ms per turn, instead of taking 4 ms each
 * (40 ms between two looks at the sockets).
 *
 * Within a turn, the oldest task goes first (first come, first served, sliced): for jobs of bounded size such
 * as these (an agenda is at most 31 days), finishing them in order of arrival gives every client its answer
 * sooner on average than round-robin, which would finish all of them together at the end; and any later I/O
 * still waits at most one quantum.
 */
export class TimeSlicer {
  private turnStart = Number.NEGATIVE_INFINITY;
  private tickets = 0;
  /** Paused tasks, by ticket (arrival order). */
  private line: { ticket: number; resume: () => void }[] = [];
  /**
   * The task handed the rest of this turn's quantum, until it pauses or ends. Tasks are resumed one at a time:
   * each asks {@link Slice.spent} when it actually runs, after the one before it has used its share.
   */
  private holder: number | undefined;
  private scheduled = false;

  /**
   * @param quantumMs CPU time per turn of the event loop, shared by every task of this slicer.
   * @param now a monotonic clock in ms (tests drive a fake one).
   * @param nextTurn runs a callback on the next turn of the event loop, after its I/O.
   */
  constructor(
    private readonly quantumMs: number,
    private readonly now: () => number = () => performance.now(),
    private readonly nextTurn: (callback: () => void) => void = (callback) => setImmediate(callback),
  ) {}

  /**
   * Runs `work` as a task placed in line after every task begun before it. It starts at once (a short task
   * never waits); from then on it pauses when {@link Slice.spent} says so.
   */
  async run<T>(work: (slice: Slice) => Promise<T>): Promise<T> {
    const ticket = this.tickets++;
    try {
      return await work({ spent: () => this.spent(), pause: () => this.pause(ticket) });
    } finally {
      this.release(ticket);
    }
  }

  private spent(): boolean {
    return this.now() - this.turnStart >= this.quantumMs;
  }

  private pause(ticket: number): Promise<void> {
    return new Promise((resume) => {
      let at = this.line.length;
      while (at > 0 && this.line[at - 1]!.ticket > ticket) at--;
      this.line.splice(at, 0, { ticket, resume });
      this.release(ticket);
    });
  }

  /** The task stopped running (paused or ended): the next in line gets what is left of the quantum. */
  private release(ticket: number): void {
    if (this.holder === ticket) this.holder = undefined;
    if (this.holder !== undefined || this.line.length === 0) return;
    if (this.spent()) {
      if (!this.scheduled) {
        this.scheduled = true;
        this.nextTurn(this.turn);
      }
      return;
    }
    const next = this.line.shift()!;
    this.holder = next.ticket;
    next.resume();
  }

  /** A new turn: the quantum starts over and goes to the oldest paused task. */
  private readonly turn = (): void => {
    this.scheduled = false;
    this.turnStart = this.now();
    this.release(Number.NaN);
  };
}

/** One task's handle on its {@link TimeSlicer}. */
export interface Slice {
  /** True when this turn's quantum is used up: pause before the next unit of work. */
  spent(): boolean;
  /** Lets the event loop do its I/O, then resumes in a later turn, in order of arrival. */
  pause(): Promise<void>;
}
