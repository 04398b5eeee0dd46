// A worker entry that fails while loading, as a bad deploy or a syntax error would: the engine must
// report worker_crashed instead of waiting forever for an answer.
throw new Error('this worker fails at startup');
