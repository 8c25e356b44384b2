import { formatLocation, parseLocation } from "@toolkit/shared";
import { z } from "zod";
import type { Codec } from "./codecs.ts";
import { KvError } from "./errors.ts";
import { Kv, type OpenKvOptions, openKv } from "./kv-store.ts";

/** A remote database as a group lists it: where it is and what the user says about it. Never credentials. */
export interface RemoteDescriptor {
  /** Version of this entry's shape. */
  entryVersion: 1;
  type: "kv";
  /** `s3://bucket/prefix/` or `file:///dir/`. */
  location: string;
  /** Free-form JSON the user attaches (title, owner, …). */
  userMeta: Record<string, unknown>;
  /** When the entry was added or last changed, ISO 8601. */
  updatedAt: string;
}

const GROUP_KEY = /^[A-Za-z0-9._-]{1,200}$/;

const descriptorSchema = z.strictObject({
  entryVersion: z.literal(1),
  type: z.literal("kv"),
  location: z.string().refine((value) => {
    try {
      parseLocation(value);
      return true;
    } catch {
      return false;
    }
  }, "a location is s3://bucket/prefix or file:///absolute/dir"),
  userMeta: z.record(z.string(), z.unknown()),
  updatedAt: z.iso.datetime(),
});

/** The codec of a group: JSON, validated on the way in and out. */
export const remoteDescriptorCodec: Codec<RemoteDescriptor> = {
  id: "s3kit.kv-group/1",
  encode(value) {
    const parsed = descriptorSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new TypeError(`invalid remote descriptor at \`${issue.path.join(".")}\`: ${issue.message}`);
    }
    return Buffer.from(JSON.stringify(parsed.data), "utf8");
  },
  decode(bytes) {
    return descriptorSchema.parse(JSON.parse(Buffer.from(bytes).toString("utf8"))) as RemoteDescriptor;
  },
};

/** A database of remote databases (ebooklet's "remote connection group"), synced like any other. */
export class KvGroup extends Kv<RemoteDescriptor> {
  /**
   * Add (or replace) the entry for a remote database. The key defaults to the location's last path segment.
   * @returns the key used
   */
  async add(
    location: string,
    options: { key?: string; userMeta?: Record<string, unknown>; signal?: AbortSignal } = {},
  ): Promise<string> {
    let normalized: string;
    try {
      normalized = formatLocation(parseLocation(location));
    } catch (error) {
      throw new KvError("kv.invalidValue", `KvGroup.add: ${(error as Error).message}`, { cause: error });
    }
    if (!normalized.endsWith("/")) normalized += "/";
    const key = options.key ?? normalized.replace(/\/+$/, "").split("/").pop() ?? "";
    if (!GROUP_KEY.test(key)) {
      throw new KvError(
        "kv.invalidKey",
        `KvGroup.add: key ${JSON.stringify(key)} must match ${GROUP_KEY} (pass options.key to choose one).`,
      );
    }
    await this.set(key, {
      entryVersion: 1,
      type: "kv",
      location: normalized,
      userMeta: options.userMeta ?? {},
      updatedAt: new Date().toISOString(),
    });
    return key;
  }

  /** Open the database a group entry names; `options` are those of {@link openKv} without `remote`. */
  // biome-ignore lint/suspicious/noExplicitAny: any codec value type
  async openMember<O extends Omit<OpenKvOptions<any>, "remote">>(key: string, options: O) {
    const entry = await this.get(key);
    if (!entry) {
      throw new KvError("kv.notFound", `The group ${this.path} has no entry ${JSON.stringify(key)}; add it first.`);
    }
    return openKv({ ...options, remote: entry.location });
  }
}

/** Options of {@link openKvGroup}: those of {@link openKv} without `codec` (a group's codec is fixed). */
export type OpenKvGroupOptions = Omit<OpenKvOptions, "codec">;

/**
 * Open a group: a database whose values are validated {@link RemoteDescriptor}s (location + user metadata,
 * never credentials).
 */
export async function openKvGroup(options: OpenKvGroupOptions): Promise<KvGroup> {
  const kv = await openKv({ ...options, codec: remoteDescriptorCodec });
  Object.setPrototypeOf(kv, KvGroup.prototype);
  return kv as KvGroup;
}
