// Folds byte counts of many files into one progress callback, called at most every ~100 ms plus once
// at the end. Knows nothing of where the bytes come from.

/** What `onProgress` receives: bytes of all the model's files together. */
export interface LoadProgress {
  file: string; // the file being read now (relative to the model folder)
  loadedBytes: number; // never decreases
  totalBytes: number; // known before the first byte of any file is fetched; equals loadedBytes in the last call
}

export const PROGRESS_INTERVAL_MS = 100;

export class ProgressReporter {
  #loadedBytes = 0;
  #totalBytes = 0;
  #file = '';
  #lastCallMs = -Infinity;

  constructor(private readonly onProgress: ((progress: LoadProgress) => void) | undefined) {}

  /** Sets the total and reports once. */
  start(totalBytes: number, file: string): void {
    this.#totalBytes = totalBytes;
    this.#file = file;
    this.#call();
  }

  /** Counts bytes of `file`; reports when the last report is ~100 ms old. */
  add(file: string, bytes: number): void {
    this.#file = file;
    this.#loadedBytes += bytes;
    // A server that sent more than it announced (a file without Content-Length) grows the total.
    if (this.#loadedBytes > this.#totalBytes) this.#totalBytes = this.#loadedBytes;
    if (performance.now() - this.#lastCallMs >= PROGRESS_INTERVAL_MS) this.#call();
  }

  /** Takes back bytes that will be fetched again (a server that ignored a Range request); the reports do not go back. */
  retract(bytes: number): void {
    this.#loadedBytes -= bytes;
  }

  /** The only report of a load that fetched nothing (a cache hit). */
  done(totalBytes: number, file: string): void {
    this.#loadedBytes = this.#totalBytes = totalBytes;
    this.#file = file;
    this.#call();
  }

  /** The last report: loadedBytes === totalBytes. */
  finish(): void {
    this.#totalBytes = this.#loadedBytes = Math.max(this.#loadedBytes, this.#reported);
    // The last throttled report may already be this one.
    if (this.#reported !== this.#loadedBytes || this.#reportedTotal !== this.#totalBytes) this.#call();
  }

  #reported = 0;
  #reportedTotal = -1;

  #call(): void {
    this.#lastCallMs = performance.now();
    this.#reported = Math.max(this.#reported, this.#loadedBytes);
    this.#reportedTotal = this.#totalBytes;
    this.onProgress?.({ file: this.#file, loadedBytes: this.#reported, totalBytes: this.#totalBytes });
  }
}
