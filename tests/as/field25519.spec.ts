import {
  Fe, feNew, feOne, feZero, feCopy, feAdd, feSub, feNeg, feMul, feSq, feSqN, feCarry, feInvert, fePowP58,
  feFromBytes, feToBytes, feBytesAreCanonical, feIsZero, feEqual, feIsNegative, feSqrtRatio, FE_SQRT_M1,
} from "../../assembly/lib/field25519";
import { bytesToHex, hexToBytes } from "./helpers/hex";

// Arithmetic in GF(2^255 - 19). Expected values were computed independently with arbitrary-precision integers
// (Python: a*b % p, pow(a, p-2, p), ...). Known answers matter here: a wrong reduction constant would still give a
// ring, so algebraic identities alone could not catch it.

const P_MINUS_1 = "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";

function fe(hex: string): Fe {
  const out = feNew();
  feFromBytes(out, hexToBytes(hex), 0);
  return out;
}

function hexOf(a: Fe): string {
  const out = new Uint8Array(32);
  feToBytes(out, 0, a);
  return bytesToHex(out);
}

function limbs(values: i64[]): Fe {
  const out = feNew();
  for (let i = 0; i < 10; i++) out[i] = values[i];
  return out;
}

function repeatLimb(v: i64): Fe {
  const out = feNew();
  for (let i = 0; i < 10; i++) out[i] = v;
  return out;
}

// Rows: a, b, a*b, a^2, a+b, a-b, 1/a (all mod p, canonical little-endian hex). The a values include 0, 1, 2,
// p-1, p-2, 19, 2^128, 2^254, 2^200-1 and random elements; b is random.
const KAT: string[][] = [
  ["0000000000000000000000000000000000000000000000000000000000000000", "0e170b151670e2c3d932c254c8643c1e041421c003bb7a0bbffe3eb32c0c3169", "0000000000000000000000000000000000000000000000000000000000000000", "0000000000000000000000000000000000000000000000000000000000000000", "0e170b151670e2c3d932c254c8643c1e041421c003bb7a0bbffe3eb32c0c3169", "dfe8f4eae98f1d3c26cd3dab379bc3e1fbebde3ffc4485f44001c14cd3f3ce16", "0000000000000000000000000000000000000000000000000000000000000000"],
  ["0100000000000000000000000000000000000000000000000000000000000000", "4b77fe0050ade3f673512d0695ee17f8fd13d8972f0392c0b80a3e509a19033d", "4b77fe0050ade3f673512d0695ee17f8fd13d8972f0392c0b80a3e509a19033d", "0100000000000000000000000000000000000000000000000000000000000000", "4c77fe0050ade3f673512d0695ee17f8fd13d8972f0392c0b80a3e509a19033d", "a38801ffaf521c098caed2f96a11e80702ec2768d0fc6d3f47f5c1af65e6fc42", "0100000000000000000000000000000000000000000000000000000000000000"],
  ["0200000000000000000000000000000000000000000000000000000000000000", "13b5e7857d0a0c37b8407af248c56e0c1fe9f4bdc1163d4b27a961356e651735", "266acf0bfb14186e7081f4e4918add183ed2e97b832d7a964e52c36adcca2e6a", "0400000000000000000000000000000000000000000000000000000000000000", "15b5e7857d0a0c37b8407af248c56e0c1fe9f4bdc1163d4b27a961356e651735", "dc4a187a82f5f3c847bf850db73a91f3e0160b423ee9c2b4d8569eca919ae84a", "f7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff3f"],
  ["ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "1ab405cc295e1e9e307c739d83664b2259de939351012a121212c10a27052805", "d34bfa33d6a1e161cf838c627c99b4dda6216c6caefed5ededed3ef5d8fad77a", "0100000000000000000000000000000000000000000000000000000000000000", "19b405cc295e1e9e307c739d83664b2259de939351012a121212c10a27052805", "d24bfa33d6a1e161cf838c627c99b4dda6216c6caefed5ededed3ef5d8fad77a", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"],
  ["ebffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "f417eccb0e89c5cf84761a5978a1f11fcdccd4d174e6c726ce04f0e27033940b", "05d02768e2ed7460f612cb4d0fbd1cc06566565c163370b263f61f3a1e99d768", "0400000000000000000000000000000000000000000000000000000000000000", "f217eccb0e89c5cf84761a5978a1f11fcdccd4d174e6c726ce04f0e27033940b", "f7e71334f1763a307b89e5a6875e0ee032332b2e8b1938d931fb0f1d8fcc6b74", "f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff3f"],
  ["1300000000000000000000000000000000000000000000000000000000000000", "7937dfa763bc8d0209100df52b40a1bfcea20c6b8300a2fb21cbe78b70a3c943", "b91e917565fb8430ab30f82f43c3f7385815f0f1c00906ad851334625a21f707", "6901000000000000000000000000000000000000000000000000000000000000", "8c37dfa763bc8d0209100df52b40a1bfcea20c6b8300a2fb21cbe78b70a3c943", "87c820589c4372fdf6eff20ad4bf5e40315df3947cff5d04de3418748f5c363c", "14ca6b28afa1bc86f21aca6b28afa1bc86f21aca6b28afa1bc86f21aca6b282f"],
  ["ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "9cbd64027f45101008a382429db76492fdf8bc4758c2da3d907fc5b8e9eb2553", "51429bfd80baefeff75c7dbd62489b6d020743b8a73d25c26f803a471614da2c", "0100000000000000000000000000000000000000000000000000000000000000", "9bbd64027f45101008a382429db76492fdf8bc4758c2da3d907fc5b8e9eb2553", "50429bfd80baefeff75c7dbd62489b6d020743b8a73d25c26f803a471614da2c", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"],
  ["0000000000000000000000000000000001000000000000000000000000000000", "20917875652ee1ac97a229a1f7d2e8b7de7810be457f2f7ff1805355fdafdb1f", "07f171365ae40ce1d82365aa9a1f9cba24917875652ee1ac97a229a1f7d2e837", "2600000000000000000000000000000000000000000000000000000000000000", "20917875652ee1ac97a229a1f7d2e8b7df7810be457f2f7ff1805355fdafdb1f", "cd6e878a9ad11e53685dd65e082d17482287ef41ba80d0800e7facaa02502460", "f2ffffffffffffffffffffffffffff7f0de53594d7505e43790de53594d7505e"],
  ["0000000000000000000000000000000000000000000000000000000000000040", "9a36bbfdf02738c80da9f28625665ad61734d49d078bfd88ac7eb7af51a5bc16", "ca86726a717b15ee0246018264ca5a74e2ee5f5bc8a8681567334f0588220058", "4c00000000000000000000000000000000000000000000000000000000000060", "9a36bbfdf02738c80da9f28625665ad61734d49d078bfd88ac7eb7af51a5bc56", "66c944020fd8c737f2560d79da99a529e8cb2b62f874027753814850ae5a4329", "2894d7505e43790de53594d7505e43790de53594d7505e43790de53594d7505e"],
  ["ffffffffffffffffffffffffffffffffffffffffffffffffff00000000000000", "429d15f65699054e24859f4b68a31326dade29d9495205ce125f2896e55fe148", "3fc6adb7e2e13b9c82dc74ebd35223a4baebf22400c236a6beed747f10f7b73c", "eeffffffffffffffffffffffffffffffffff25000000000000feffffffffff7f", "419d15f65699054e24859f4b68a31326dade29d9495205ce12602896e55fe148", "aa62ea09a966fab1db7a60b4975cecd92521d626b6adfa31eda1d7691aa01e37", "a5becac08ca811c18b99f77c699b77efb99ae14c189ee4049fa7becac08ca811"],
  ["6aad39f4c2aaed1a8a27e534ce4aa7426078fe43c27a88b4ada9dd74482b8410", "1f6a710ee2343d3d8ed954fb9a62e67b4e88aebc303a2b2e762c7feb2ae69268", "c7622ae1304cd8f169f04a9fc7e7d6e0e7cf4b5096692bb3e27c6766d4af4626", "4318b58bddddf6e546fba0f956a2e5540edf5573dcd505c51222524f1ca28c44", "8917ab02a5df2a5818013a3069ad8dbeae00ad00f3b4b3e223d65c6073111779", "3843c8e5e075b0ddfb4d903933e8c0c611f04f8791405d86377d5e891d45f127", "3eb7b9b06dbd9f24df520e8f63ba87954dd94f0fa3a043496e36afc2a4d8b36e"],
  ["232cae48c88fff9b500f0b4cca8e9f33a72971aa44125c7294d11bb5c82df818", "8d1613ce3c32923fc658eac66a8040cf5efb61aee99951d591629abb215d7802", "8a687f7c9461b91bb4a872681adf9c87b3cc8ddcb1063cf787b74e257c95af75", "e3e076e96e7d6d1c31b12350ad75febb0cd8e1c86055a1d0d7f50f7d363c1d6c", "b042c11605c291db1668f512350fe0020625d3582eacad472634b670ea8a701b", "96159b7a8b5d6d5c8ab620855f0e5f64482e0ffc5a780a9d026f81f9a6d07f16", "71a148e3f88fbe94c21c654cf74ae09f4e9b01fea6b5698578dce05f592e0469"],
  ["52c00060c28921553a62c526134241b82b54e7a6e2d5c69174e5e75e2a082b6e", "6e802c3aeaf24a0e5cee014c74e4f2421a05779b2f7b9b77fdb7c1123e974250", "cd5ef48a8ed9219de74af2f4f8ececcc8122afdcc18aad318e4501948fb90c63", "3a3322dfd1a9a8098585e30f3cfcb90a06624f2410f1fdec21d1a29f9ebceb6e", "d3402d9aac7c6c639650c772872634fb45595e4212516209729da971689f6d3e", "e43fd425d896d646de73c3da9e5d4e75114f700bb35a2b1a772d264cec70e81d", "d7e89a389ad79bcce2ee3f2cb85d0b7e9f2c70623f1b3ae4e18603352cea085b"],
  ["d99a08e47ccc61a0c7fd186f5fc43b369986715a5578f834b4324705f5921425", "a2f96e9e4662f72b163a4b753c8aff69d9f00dd18b03c761dcaf3668557dba48", "f488aee41a77f1411cd4f6bab3fa6d946054e2a89c57d1d005addbcb26352d24", "5476e8894ae4daefb743f12e3d8bb1b1521e76702ae221a049bec3ba19030174", "7b947782c32e59ccdd3764e49b4e3ba072777f2be17bbf9690e27d6d4a10cf6d", "24a19945366a6a74b1c3cdf9223a3cccbf956389c97431d3d782109d9f155a5c", "6a91078a23c853a18b2b60cfeafea97eaf89b389dd591a3f6e77748c8b310216"],
  ["0102016c9e45bf9fcd7bc5036e3c2e972bed6264cf29988e59785274c6502d2b", "fdc3b49e90d1facf1bf29e0c02a177db5d9df5b1c0a2dbd0a3775bdf3d61972d", "dfd1b1781402cc704e7a2dccb6c37cfe3c4874aad1478ad3c00f99d6068c160f", "a0f969055e501259bf49e12f7d58656f34e571fe658aa85b7d117e73f224d153", "fec5b50a2f17ba6fe96d641070dda572898a581690cc735ffdefad5304b2c458", "f13d4ccd0d74c4cfb18926f76b9bb6bbcd4f6db20e87bcbdb500f79488ef957d", "ba1373dc2e542d9b00a90b09726a4581d0fdc7e4d3a384676e74bc8e68127d51"],
  ["57ac9570ee671978bc641eb94c0e31eb21eb4ef5d7853da56a0ecc50676b1848", "c2d7ad131a63268dcc463ae8b98deb02339cad3bf65e34109c685a9cc7043536", "4f9d3d58ef62a56675bf6da864bcb02fde1c057b9ab94d12a70595df37d95027", "f572616e8dd2aee39e860566c9180d02bf4ce60094de283a678fe3f7607e8e77", "1984438408cb3f0589ab58a1069c1cee5487fc30cee471b5067726ed2e704d7e", "95d4e75cd404f3eaef1de4d0928045e8ee4ea1b9e1260995cea571b49f66e311", "11e40dd5f9788b7b10d4067f3c3e3924338a3c9a42d68c9a619eee5c9cf18703"],
  ["52d68e7732bc13156cefd33dc459bff2be5653a3566c3d4fa23ab942f6766043", "76b90928a9b1aa00ec0533e2f010397cba97449634c0f457ccac62fab9252805", "7e9285d7055d4272b6eb8ba6d8cb3be9f79dd0f58c7cefc1dc50ee21f25ae927", "505169ad9b3fef701af736120756acbf2d36e34f9769fcefe14828c6f3d1b875", "c88f989fdb6dbe1558f50620b56af86e79ee97398b2c32a76ee71b3db09c8848", "dc1c854f890a691480e9a05bd348867604bf0e0d22ac48f7d58d56483c51383e", "0acff17d76dddd014c08a7c0a26b51bcb21da07a3b5837a646a31cb206aa8b00"],
  ["78408cf78b253434bee6f24cf56c3e9a471ec54a6fc4e51e90817f9660fc714a", "1da2bd5910184fffea68136c71a276614cc6869b847adbcfdf3093cc5db99858", "fdfcfe984c6178c14b08a6d3defe47304fa85d1d4948ed5689323700708ab70d", "0ba07920c9bc7c0b80da6abe00a39bb82cd3ff9418e076ab1ed88fa14d73c877", "a8e249519c3d8333a94f06b9660fb5fb93e44be6f33ec1ee6fb21263beb50a23", "489ece9d7b0de534d37ddfe083cac738fb573eafea490a4fb050ecc90243d971", "4b41cb28f984f0c5473e70eb44ae33a875cb039b59b912d76eb9e8c77dac023f"],
  ["c6f5ebb9d94d0d82716ebba90b240ee61f26ec6bc234178918d842d051ee8a41", "1d09fffb8942cd5ae5c11296e10067a45caa82c8e7d7e27a0078fc8a6879c724", "a97a385b1dcd14d33890265723408366f65e8d7f6fb3687025d6c92e7ee2c063", "590d6cced685ed91fe90c2a99007d4cfa0d49e8c887db3440832c79318767b58", "e3feeab56390dadc5630ce3fed24758a7cd06e34aa0cfa0319503f5bba675266", "a9ececbd4f0b40278caca8132a23a741c37b69a3da5c340e18604645e974c31c", "3336690583128d78716d7f25d904f07ffc816754023a10a5fb079579cd5c8a52"],
  ["724465604de8b434765c05e53ba85134cd5093f295427106a576e65e1a99c443", "d28283ee779cd951577f841c98e85d39fb4f828000d2767981c89ae4d79e9808", "f7171e9ab0700ca44136972f19b9b2f6b0b83c59f40c1b1ab4c9810958940020", "3db57c68663ca8c2c6cceab426eda86d60d6b906be9e1b96e30d7a80544af610", "44c7e84ec5848e86cddb8901d490af6dc8a015739614e87f263f8143f2375d4c", "a0c1e171d54bdbe21edd80c8a3bff3fad10011729570fa8c23ae4b7a42fa2b3b", "fa6e3bc7de4f342a31d0d3bc6fdfdb464b2daf88cab8bc0909df6b45fcce4f24"],
  ["dd93539a31e9c2b5dd66a5bd642f743cd11c6f64d4411757d1a41f0aed60594c", "eb500376915c51d131be9f5d45f0ad3c0529de9760f4745bb0fadd9c0f9c7002", "9f7c316c92dc41f8c20dc161e3e73d604656ff124fb770090d0e8fccd87dac23", "e8281e48429588bce1f6c5d623706aa5a37ef06e4866c80af21840dc26da1e75", "c8e45610c34514870f25451baa1f2279d6454dfc34368cb2819ffda6fcfcc94e", "f2425024a08c71e4aba805601f3fc6ffcbf390cc734da2fb20aa416dddc4e849", "822ad8391496830867c2c57b517851c8599ac22de87041a5cf6d10b2db68b036"],
  ["1132ea3f86b7928a72d12242c66b7e4e484cfea1205d1445613c96bd5a0bf65a", "ade5ab643c92e70c8285155bd80f36ab0628f5a54c48b9e9454a91ad76824a10", "8b3665c468ce2edbfe025f6a91910d0cdbdb8823d27c688c061d4d1b36c2d764", "56fa2bd856f934988554b23d8fdd7508aa804f92a0732935688a3fb41674f777", "be1796a4c2497a97f456389d9e7bb4f94e74f3476da5cd2ea786276bd18d406b", "644c3edb4925ab7df04b0de7ed5b48a3412409fcd3145b5b1bf20410e488ab4a", "cd2f39334086f069535f1653d97045d403cda195241ee110f63abc8e2c53791a"]
];

describe("field25519 known answers", () => {
  it("multiplies, squares, adds, subtracts and inverts like arbitrary-precision arithmetic mod p", () => {
    const out = feNew();
    for (let i = 0; i < KAT.length; i++) {
      const row = KAT[i];
      const a = fe(row[0]);
      const b = fe(row[1]);
      feMul(out, a, b);
      expect(hexOf(out)).toBe(row[2], "a*b row " + i.toString());
      feSq(out, a);
      expect(hexOf(out)).toBe(row[3], "a^2 row " + i.toString());
      feAdd(out, a, b);
      expect(hexOf(out)).toBe(row[4], "a+b row " + i.toString());
      feSub(out, a, b);
      expect(hexOf(out)).toBe(row[5], "a-b row " + i.toString());
      feInvert(out, a);
      expect(hexOf(out)).toBe(row[6], "1/a row " + i.toString());
    }
  });

  it("round-trips canonical encodings through feFromBytes/feToBytes", () => {
    for (let i = 0; i < KAT.length; i++) {
      expect(hexOf(fe(KAT[i][2]))).toBe(KAT[i][2]);
    }
  });

  it("multiplies with out aliasing an input", () => {
    const row = KAT[12];
    const a = fe(row[0]);
    feMul(a, a, fe(row[1]));
    expect(hexOf(a)).toBe(row[2]);
    const b = fe(row[0]);
    feSq(b, b);
    expect(hexOf(b)).toBe(row[3]);
    const c = fe(row[0]);
    feInvert(c, c);
    expect(hexOf(c)).toBe(row[6]);
  });
});

describe("field25519 limb bounds", () => {
  // The largest loose inputs feMul/feSq accept: every limb +-(2^27 + 2^13). Expected values: the integer
  // sum(limb[i] * 2^E[i]) for E = 0, 26, 51, ..., 230, multiplied and reduced mod p with big integers.
  const M: i64 = (<i64>1 << 27) + (<i64>1 << 13);

  it("multiplies loose operands at the top of the bound without overflow", () => {
    const out = feNew();
    const maxFe = repeatLimb(M);
    const minFe = repeatLimb(-M);
    const alt = limbs([-M, M, -M, M, -M, M, -M, M, -M, M]);
    feMul(out, maxFe, maxFe);
    expect(hexOf(out)).toBe("c41fbeec1b16624cd0a4b4500de5811d4f844f380ba4c817a4413ae0c2686006");
    feMul(out, maxFe, minFe);
    expect(hexOf(out)).toBe("29e04113e4e99db32f5b4baff21a7ee2b07bb0c7f45b37e85bbec51f3d979f79");
    feMul(out, alt, maxFe);
    expect(hexOf(out)).toBe("581800c401e2401c00e00bf005be00004d8026d00400d801ec801d00400a2005");
    feSq(out, alt);
    expect(hexOf(out)).toBe("cc1c426bec152239309b804f0d6f81e2ee7c4fa8085cc7eea3c12e20bdb05f06");
    feSq(out, minFe);
    expect(hexOf(out)).toBe("c41fbeec1b16624cd0a4b4500de5811d4f844f380ba4c817a4413ae0c2686006");
  });

  it("leaves products in carried form: limbs in [-2^11, 2^26)", () => {
    const out = feNew();
    feMul(out, repeatLimb(M), repeatLimb(-M));
    for (let i = 0; i < 10; i++) {
      expect(out[i]).toBeGreaterThanOrEqual(-(<i64>1 << 11), "limb " + i.toString());
      expect(out[i]).toBeLessThan(<i64>1 << 26, "limb " + i.toString());
    }
  });

  it("carries limbs of +-(2^40 - 1) to the same value", () => {
    const big: i64 = (<i64>1 << 40) - 1;
    const a = repeatLimb(big);
    feCarry(a);
    expect(hexOf(a)).toBe("ff7f09fcff00f8ff03e0ff07c0ff1f00ff3f00feff00f8ff01f0ff07c0ff0f00");
    for (let i = 0; i < 10; i++) expect(a[i]).toBeLessThan(<i64>1 << 26);
    const b = repeatLimb(-big);
    feCarry(b);
    expect(hexOf(b)).toBe("ee7ff60300ff0700fc1f00f83f00e0ff00c0ff0100ff0700fe0f00f83f00f07f");
  });

  it("encodes negative and over-p limb patterns canonically", () => {
    // -1 as limb 0 = -1: canonical p - 1.
    expect(hexOf(limbs([-1, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBe(P_MINUS_1);
    // p itself, limb by limb (2^26 - 19, then all-ones limbs): canonical 0.
    const p = limbs([(1 << 26) - 19, (1 << 25) - 1, (1 << 26) - 1, (1 << 25) - 1, (1 << 26) - 1,
      (1 << 25) - 1, (1 << 26) - 1, (1 << 25) - 1, (1 << 26) - 1, (1 << 25) - 1]);
    expect(hexOf(p)).toBe("0000000000000000000000000000000000000000000000000000000000000000");
    expect(feIsZero(p)).toBe(true);
    // p + 1: canonical 1.
    p[0] = p[0] + 1;
    expect(hexOf(p)).toBe("0100000000000000000000000000000000000000000000000000000000000000");
    // 2^255 - 1 = p + 18 (all limbs full): canonical 18.
    const ones = limbs([(1 << 26) - 1, (1 << 25) - 1, (1 << 26) - 1, (1 << 25) - 1, (1 << 26) - 1,
      (1 << 25) - 1, (1 << 26) - 1, (1 << 25) - 1, (1 << 26) - 1, (1 << 25) - 1]);
    expect(hexOf(ones)).toBe("1200000000000000000000000000000000000000000000000000000000000000");
    // A value just below 2^255 reached through a negative carry ripple: -19 = p - 19.
    expect(hexOf(limbs([-19, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBe("daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  });
});

describe("field25519 decoding", () => {
  it("ignores bit 255 and reduces values in [p, 2^255)", () => {
    expect(hexOf(fe("0100000000000000000000000000000000000000000000000000000000000080"))).toBe(
      "0100000000000000000000000000000000000000000000000000000000000000");
    expect(hexOf(fe("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))).toBe(
      "0000000000000000000000000000000000000000000000000000000000000000");
    expect(hexOf(fe("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"))).toBe(
      "1200000000000000000000000000000000000000000000000000000000000000");
  });

  it("tells canonical encodings (below p) from non-canonical ones", () => {
    expect(feBytesAreCanonical(hexToBytes(P_MINUS_1), 0)).toBe(true);
    expect(feBytesAreCanonical(hexToBytes("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"), 0)).toBe(true);
    expect(feBytesAreCanonical(hexToBytes("0000000000000000000000000000000000000000000000000000000000000000"), 0)).toBe(true);
    expect(feBytesAreCanonical(hexToBytes("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), 0)).toBe(false);
    expect(feBytesAreCanonical(hexToBytes("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"), 0)).toBe(false);
    expect(feBytesAreCanonical(hexToBytes("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), 0)).toBe(false);
    expect(feBytesAreCanonical(hexToBytes("ecfffffffffffffffffffffffffffffffffffffffffffffffffffffffeffff7f"), 0)).toBe(true);
  });

  it("reads at an offset", () => {
    const buf = hexToBytes("aa" + KAT[11][0] + "bb");
    const out = feNew();
    feFromBytes(out, buf, 1);
    expect(hexOf(out)).toBe(KAT[11][0]);
    const enc = new Uint8Array(34);
    feToBytes(enc, 1, out);
    expect(enc[0]).toBe(0);
    expect(enc[33]).toBe(0);
    expect(bytesToHex(enc.subarray(1, 33))).toBe(KAT[11][0]);
  });
});

describe("field25519 square roots and signs", () => {
  it("has sqrt(-1) squaring to -1", () => {
    const out = feNew();
    feSq(out, FE_SQRT_M1);
    expect(hexOf(out)).toBe(P_MINUS_1);
  });

  it("finds the square root of a square ratio and rejects a non-square", () => {
    const out = feNew();
    const check = feNew();
    let squares = 0;
    let nonSquares = 0;
    for (let i = 0; i < KAT.length; i++) {
      const u = fe(KAT[i][1]);
      const v = fe(KAT[i][2]);
      if (feIsZero(v)) continue;
      const ok = feSqrtRatio(out, u, v);
      // Euler's criterion on u/v decides which answer is right: (u v^-1)^((p-1)/2) = 1 for squares.
      const ratio = feNew();
      feInvert(ratio, v);
      feMul(ratio, ratio, u);
      const euler = feNew();
      fePowP58(euler, ratio); //            r^((p-5)/8)
      feSqN(euler, euler, 2); //            r^((p-5)/2)
      const r2 = feNew();
      feSq(r2, ratio);
      feMul(euler, euler, r2); //           r^((p-1)/2)
      const one = feNew();
      feOne(one);
      const isSquare = feEqual(euler, one);
      expect(ok).toBe(isSquare, "row " + i.toString());
      if (ok) {
        squares++;
        feSq(check, out);
        feMul(check, check, v);
        expect(feEqual(check, u)).toBe(true, "v * root^2 = u, row " + i.toString());
      } else {
        nonSquares++;
      }
    }
    // The rows contain both kinds, so both branches ran.
    expect(squares).toBeGreaterThan(0);
    expect(nonSquares).toBeGreaterThan(0);
  });

  it("uses the sqrt(-1) branch when v x^2 = -u", () => {
    // u = -1, v = 1: the candidate squares to 1 or -1 and the root must be +-sqrt(-1).
    const u = feNew();
    feOne(u);
    feNeg(u, u);
    const v = feNew();
    feOne(v);
    const out = feNew();
    expect(feSqrtRatio(out, u, v)).toBe(true);
    const sq = feNew();
    feSq(sq, out);
    expect(hexOf(sq)).toBe(P_MINUS_1);
  });

  it("returns root 0 for u = 0", () => {
    const u = feNew();
    feZero(u);
    const out = feNew();
    expect(feSqrtRatio(out, u, fe(KAT[12][1]))).toBe(true);
    expect(feIsZero(out)).toBe(true);
  });

  it("reports the sign as the low bit of the canonical value", () => {
    expect(feIsNegative(fe("0100000000000000000000000000000000000000000000000000000000000000"))).toBe(true);
    expect(feIsNegative(fe(P_MINUS_1))).toBe(false);
    // -1 given as limbs: canonical p - 1 is even.
    expect(feIsNegative(limbs([-1, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBe(false);
    // 2^255 - 1 is p + 18: even after reduction although the raw limbs are odd.
    expect(feIsNegative(fe("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))).toBe(false);
  });
});

describe("field25519 identities on pseudo-random elements", () => {
  it("satisfies distributivity, a * a^-1 = 1 and a^2 = a * a", () => {
    // xorshift32 fills 32 bytes per element; fixed seed so a failure reproduces.
    let state: u32 = 0x9e3779b9;
    const bytes = new Uint8Array(32);
    const a = feNew(), b = feNew(), c = feNew(), t = feNew(), u = feNew(), w = feNew();
    for (let round = 0; round < 200; round++) {
      for (let which = 0; which < 3; which++) {
        for (let i = 0; i < 32; i++) {
          state ^= state << 13;
          state ^= state >> 17;
          state ^= state << 5;
          bytes[i] = u8(state);
        }
        feFromBytes(which == 0 ? a : which == 1 ? b : c, bytes, 0);
      }
      // a * (b + c) = a*b + a*c
      feAdd(t, b, c);
      feMul(t, a, t);
      feMul(u, a, b);
      feMul(w, a, c);
      feAdd(u, u, w);
      expect(feEqual(t, u)).toBe(true, "distributivity, round " + round.toString());
      // (a - b)^2 = a^2 - 2ab + b^2
      feSub(t, a, b);
      feSq(t, t);
      feSq(u, a);
      feSq(w, b);
      feAdd(u, u, w);
      feMul(w, a, b);
      feSub(u, u, w);
      feSub(u, u, w);
      feCarry(u);
      expect(feEqual(t, u)).toBe(true, "square of a difference, round " + round.toString());
      // a * a^-1 = 1
      feInvert(t, a);
      feMul(t, t, a);
      expect(hexOf(t)).toBe("0100000000000000000000000000000000000000000000000000000000000000", "inverse, round " + round.toString());
      feCopy(u, a);
      feSq(t, a);
      feMul(u, u, a);
      expect(feEqual(t, u)).toBe(true, "square, round " + round.toString());
    }
  });
});
