export declare const DEMO_ISSUER: string;
export declare const DEMO_AUDIENCE: string;
export declare const JWKS_PATH: string;
export interface DemoBackend {
  port: number;
  url: string;
  mintToken(subject: string, lifetimeSeconds?: number): string;
  close(): Promise<void>;
}
export declare function startDemoBackend(options?: { port?: number; host?: string }): Promise<DemoBackend>;
