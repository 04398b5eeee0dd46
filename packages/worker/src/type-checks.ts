// Compile-time check that the worker client and core's Engine cannot drift apart: tsc fails here if
// either gains, loses or changes a member.

import type { Engine } from '@localm/core';
import type { RemoteEngine } from './protocol.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

// The client class is declared `implements Engine`, so adding to Engine breaks its build; and
// every Engine method that runs a model has a remote counterpart in the worker.
export const remoteCoversEngine: Equal<Exclude<keyof Engine, 'info'>, Exclude<keyof RemoteEngine, 'load' | 'cancel'>> = true;
