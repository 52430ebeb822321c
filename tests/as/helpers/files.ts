// Reads a file of the project tree (path relative to the project root) into a Uint8Array.
// Provided by the `testhost` import defined in as-pect.config.js; only specs use it.

@external("testhost", "file_size")
declare function file_size(pathPtr: usize, pathLen: usize): i32;
@external("testhost", "file_read")
declare function file_read(pathPtr: usize, pathLen: usize, dst: usize): void;

export function readProjectFile(path: string): Uint8Array {
  const encoded = String.UTF8.encode(path);
  const size = file_size(changetype<usize>(encoded), encoded.byteLength);
  if (size < 0) throw new Error("test file not found: " + path);
  const out = new Uint8Array(size);
  file_read(changetype<usize>(encoded), encoded.byteLength, out.dataStart);
  return out;
}
