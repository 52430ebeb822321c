// @peculiar/x509 resolves its crypto providers through tsyringe, which refuses to load unless the Reflect metadata
// API exists. tsyringe uses only these three calls, so a WeakMap-backed version is enough and spares the project a
// global polyfill package. It never replaces an implementation that is already installed.
type MetadataTable = Map<unknown, unknown>;

interface ReflectMetadataApi {
  getMetadata(key: unknown, target: object): unknown;
  getOwnMetadata(key: unknown, target: object): unknown;
  defineMetadata(key: unknown, value: unknown, target: object): void;
}

const reflect = Reflect as typeof Reflect & Partial<ReflectMetadataApi>;

if (typeof reflect.getMetadata !== "function") {
  const tables = new WeakMap<object, MetadataTable>();
  const own = (key: unknown, target: object): unknown => tables.get(target)?.get(key);
  const api: ReflectMetadataApi = {
    getOwnMetadata: own,
    getMetadata(key, target) {
      // Walks the prototype chain like reflect-metadata does for inherited class metadata.
      for (let current: object | null = target; current !== null; current = Object.getPrototypeOf(current) as object | null) {
        const value = own(key, current);
        if (value !== undefined) return value;
      }
      return undefined;
    },
    defineMetadata(key, value, target) {
      let table = tables.get(target);
      if (!table) tables.set(target, (table = new Map()));
      table.set(key, value);
    },
  };
  Object.assign(Reflect, api);
}

export {};
