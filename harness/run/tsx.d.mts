/** Types of tsx.mjs (plain JavaScript, so the launcher can load it before tsx is registered). */
export declare function registerTsxCjs(): void;
export declare function importTs(url: URL | string): Promise<unknown>;
export declare const COMPILED_HOOKS: unique symbol;
export declare function importModule(url: URL | string): Promise<unknown>;
export declare function childModule(url: URL | string): { script: string; execArgv: string[] };
export declare function forkModule(url: URL | string, options: Omit<import('node:child_process').ForkOptions, 'execArgv'>): import('node:child_process').ChildProcess;
