// as-pect runs the AssemblyScript unit specs in tests/as/.
// Specs read test-vector files (Wycheproof, under ../shared/testvectors) through the small `testhost` import below,
// so large vector sets are parsed by our own JSON parser instead of being pasted into the specs.
import { readFileSync, existsSync } from "node:fs";
import { resolve } from "node:path";

const projectRoot = new URL(".", import.meta.url).pathname;

function resolveVectorPath(relative) {
  // Paths are given relative to the project root, e.g. "../shared/testvectors/wycheproof/x.json".
  return resolve(projectRoot, relative);
}

export default {
  // ASP_ONLY=sha2 npx asp   runs only the specs whose file name contains "sha2".
  entries: [process.env.ASP_ONLY ? `tests/as/**/*${process.env.ASP_ONLY}*.spec.ts` : "tests/as/**/*.spec.ts"],
  include: ["tests/as/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    const decoder = new TextDecoder();
    let exports; // set once instantiated; the spec module exports its own memory
    const bytesAt = (ptr, len) => new Uint8Array(exports.memory.buffer, ptr, len);
    const pathAt = (ptr, len) => resolveVectorPath(decoder.decode(bytesAt(ptr, len)));
    const testhost = {
      // Returns the byte length of a file, or -1 when it does not exist.
      file_size(ptr, len) {
        const p = pathAt(ptr, len);
        return existsSync(p) ? readFileSync(p).length : -1;
      },
      // Copies the whole file into memory at dst (the caller allocated file_size bytes).
      file_read(ptr, len, dst) {
        const bytes = readFileSync(pathAt(ptr, len));
        bytesAt(dst, bytes.length).set(bytes);
      },
    };
    const module = await instantiate(binary, createImports({ env: { memory }, testhost }));
    exports = module.exports;
    return module;
  },
  outputBinary: false,
};
