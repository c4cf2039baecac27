/** S3 object helpers the integration tests share (over moto): URI parsing, listing, a storage-initializer download. */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import * as fs from "node:fs";
import * as path from "node:path";

export function splitS3(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: m[1], key: m[2] };
}

/** Every key under `prefix` (all pages). */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/**
 * What KServe's storage initializer does: every object under the s3:// prefix into dir, with relative
 * paths, readable by any pod user. Returns the relative paths.
 */
export async function downloadPrefix(s3: S3Client, uri: string, dir: string): Promise<string[]> {
  const { bucket, key } = splitS3(uri.replace(/\/+$/, ""));
  const prefix = `${key}/`;
  const keys = await listKeys(s3, bucket, prefix);
  for (const k of keys) {
    const target = path.join(dir, k.slice(prefix.length));
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
    fs.writeFileSync(target, await obj.Body!.transformToByteArray(), { mode: 0o644 });
  }
  return keys.map((k) => k.slice(prefix.length));
}
