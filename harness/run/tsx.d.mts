/** Types of tsx.mjs (plain JavaScript, so the launcher can load it before tsx is registered). */
export declare const TSX_IMPORT: string;
export declare function registerTsx(): void;
export declare function registerTsxCjs(): void;
