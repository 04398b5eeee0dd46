// An async queue of a run's messages on the main thread: the port pushes, the iterator pulls, a
// crashed worker fails every waiting pull.

export class MessageQueue<T> {
  readonly #items: T[] = [];
  readonly #waiting: { resolve: (item: T) => void; reject: (err: unknown) => void }[] = [];
  #failure: { err: unknown } | undefined;

  push(item: T): void {
    const waiter = this.#waiting.shift();
    if (waiter) waiter.resolve(item);
    else this.#items.push(item);
  }

  fail(err: unknown): void {
    this.#failure ??= { err };
    for (const waiter of this.#waiting.splice(0)) waiter.reject(err);
  }

  next(): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    if (this.#failure) return Promise.reject(this.#failure.err);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }
}
