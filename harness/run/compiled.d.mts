/** Types of compiled.mjs (plain JavaScript: it runs before tsx is registered). */
export declare const PROJECT_ROOT: string;
export declare const MIRROR_ROOT: string;
export declare function mirrorFresh(): boolean;
export declare const isCompiled: (url: URL | string) => boolean;
export declare function compiledUrl(url: URL | string): URL | null;
export declare function mirrorCopy(url: URL | string): URL | null;
export declare function compile(): Promise<string>;
