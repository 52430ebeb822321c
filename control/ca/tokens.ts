// Bootstrap tokens: the operator hands each workload a secret token and lists, in a token file the CA reads, the
// SHA-256 of every token with the identity it grants and when it expires. The file never holds a token itself, so
// reading it (or a backup of it) does not let anyone obtain certificates.
//
//   tokens:
//     - sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//       namespace: shop
//       serviceAccount: checkout
//       expiresAt: "2027-01-01T00:00:00Z"    # optional
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync, watchFile, unwatchFile } from "node:fs";
import { parse, stringify } from "yaml";
import { z } from "zod";
import type { Logger } from "pino";
import { isValidName, type WorkloadIdentity } from "./identity.ts";

const TokenEntrySchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be the lower-case hex SHA-256 of the token"),
  namespace: z.string().refine(isValidName, "must be a Kubernetes name"),
  serviceAccount: z.string().refine(isValidName, "must be a Kubernetes name"),
  expiresAt: z.string().datetime({ offset: true }).optional(),
}).strict();

const TokenFileSchema = z.object({ tokens: z.array(TokenEntrySchema) }).strict();

export type TokenEntry = z.infer<typeof TokenEntrySchema>;

export type TokenCheck =
  | { ok: true; identity: WorkloadIdentity }
  | { ok: false; reason: "unknown token" | "expired token" };

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A new random token (256 bits, base64url) and the token-file entry that grants `identity` with it. */
export function generateToken(identity: WorkloadIdentity, expiresAt?: Date): { token: string; entry: TokenEntry } {
  const token = randomBytes(32).toString("base64url");
  return {
    token,
    entry: { sha256: hashToken(token), ...identity, ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}) },
  };
}

export function formatTokenFile(entries: TokenEntry[]): string {
  return "# as-mesh CA bootstrap tokens (SHA-256 of each token, never the token)\n" + stringify({ tokens: entries });
}

/** Parses a token file; throws one error listing every problem with its path. */
export function parseTokenFile(text: string, source: string): TokenEntry[] {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new Error(`${source}: not YAML: ${(error as Error).message}`);
  }
  const result = TokenFileSchema.safeParse(document ?? { tokens: [] });
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${source}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
    throw new Error(problems.join("\n"));
  }
  return result.data.tokens;
}

export class TokenAuthority {
  private byHash = new Map<string, TokenEntry>();
  private watched: string | null = null;

  constructor(entries: TokenEntry[] = [], private readonly now: () => number = Date.now) {
    this.replace(entries);
  }

  static fromFile(path: string): TokenAuthority {
    const authority = new TokenAuthority();
    authority.loadFile(path);
    return authority;
  }

  get size(): number {
    return this.byHash.size;
  }

  replace(entries: TokenEntry[]): void {
    this.byHash = new Map(entries.map((entry) => [entry.sha256, entry]));
  }

  loadFile(path: string): void {
    this.replace(parseTokenFile(readFileSync(path, "utf8"), path));
  }

  /**
   * Re-reads the file when it changes. A file that no longer parses is logged and the tokens loaded before stay in
   * force, so a bad edit does not lock every workload out.
   */
  watchFile(path: string, logger: Logger, intervalMs = 1000): void {
    this.unwatch();
    this.watched = path;
    watchFile(path, { interval: intervalMs }, () => {
      try {
        this.loadFile(path);
        logger.info({ tokenFile: path, tokens: this.size }, "reloaded the CA token file");
      } catch (error) {
        logger.error({ tokenFile: path, err: (error as Error).message }, "token file rejected; keeping the tokens loaded before");
      }
    });
  }

  unwatch(): void {
    if (this.watched) unwatchFile(this.watched);
    this.watched = null;
  }

  check(token: string): TokenCheck {
    const digest = hashToken(token);
    const entry = this.byHash.get(digest);
    // The map lookup is on a hash of a high-entropy secret; the constant-time compare keeps the final check honest.
    if (!entry || !timingSafeEqual(Buffer.from(entry.sha256, "hex"), Buffer.from(digest, "hex"))) {
      return { ok: false, reason: "unknown token" };
    }
    if (entry.expiresAt && Date.parse(entry.expiresAt) <= this.now()) return { ok: false, reason: "expired token" };
    return { ok: true, identity: { namespace: entry.namespace, serviceAccount: entry.serviceAccount } };
  }
}
