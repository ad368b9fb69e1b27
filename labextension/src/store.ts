// One live copy of the workflows, kept by the workflow-events stream, shared by every view.
import { ISignal, Signal } from '@lumino/signaling';
import { watchWorkflows } from './api';
import { keyOf, reduceEvent, sorted } from './logic/events';
import { Workflow } from './logic/types';

const RECONNECT_MS = 2000;

export class WorkflowStore {
  private state = new Map<string, Workflow>();
  private _changed = new Signal<this, ReadonlySet<string>>(this);
  private _list: Workflow[] | null = null;
  private abort: AbortController | null = null;
  private pending = new Set<string>();
  private flushQueued = false;
  error = '';

  /** Keys of the workflows that changed, batched per animation frame. */
  get changed(): ISignal<this, ReadonlySet<string>> {
    return this._changed;
  }

  get list(): Workflow[] {
    if (this._list === null) {
      this._list = sorted(this.state);
    }
    return this._list;
  }

  get(key: string): Workflow | undefined {
    return this.state.get(key);
  }

  find(ns: string, name: string): Workflow | undefined {
    for (const wf of this.state.values()) {
      if (wf.metadata.name === name && (wf.metadata.namespace ?? 'default') === ns) {
        return wf;
      }
    }
    return undefined;
  }

  /** Puts a workflow the server returned (after an action) before its event arrives. */
  put(wf: Workflow): void {
    if (wf?.metadata?.name) {
      reduceEvent(this.state, { type: 'MODIFIED', object: wf });
      this.touch(keyOf(wf));
    }
  }

  start(): void {
    if (this.abort) {
      return;
    }
    this.abort = new AbortController();
    void this.loop(this.abort.signal);
  }

  dispose(): void {
    this.abort?.abort();
    this.abort = null;
  }

  private async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let fresh = true;
      try {
        await watchWorkflows('', signal, events => {
          if (fresh) {
            // A (re)connected stream lists every workflow again: start from it alone.
            fresh = false;
            for (const key of this.state.keys()) {
              this.pending.add(key);
            }
            this.state.clear();
          }
          for (const e of events) {
            if (reduceEvent(this.state, e)) {
              this.pending.add(keyOf(e.object));
            }
          }
          this.error = '';
          this.schedule();
        });
      } catch (err) {
        if (signal.aborted) {
          return;
        }
        this.error = String((err as Error).message ?? err);
        this.schedule();
      }
      await new Promise(r => setTimeout(r, RECONNECT_MS));
    }
  }

  private touch(key: string): void {
    this.pending.add(key);
    this.schedule();
  }

  private schedule(): void {
    if (this.flushQueued) {
      return;
    }
    this.flushQueued = true;
    requestAnimationFrame(() => {
      this.flushQueued = false;
      const keys = this.pending;
      this.pending = new Set();
      this._list = null;
      this._changed.emit(keys);
    });
  }
}
