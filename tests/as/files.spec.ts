import { readProjectFile } from "./helpers/files";

describe("readProjectFile", () => {
  it("reads a Wycheproof vector file byte for byte", () => {
    const bytes = readProjectFile("../shared/testvectors/wycheproof/hmac_sha256_test.json");
    expect(bytes.length).toBeGreaterThan(1000);
    expect(bytes[0]).toBe(<u8>0x7b); // '{'
  });
});
