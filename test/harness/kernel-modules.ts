// Module dependency resolution from a depmod'ed modules.dep, for the few modules the initramfs
// must insmod itself (busybox insmod knows nothing about dependencies).

export interface ModuleIndex {
  /** module name (underscores) -> path relative to lib/modules/RELEASE */
  paths: Map<string, string>;
  /** module path -> paths of the modules it needs */
  dependencies: Map<string, string[]>;
  /** names of modules built into the kernel image */
  builtin: Set<string>;
}

/** Module names treat "-" and "_" alike (virtio-rng.ko is module virtio_rng). */
export function moduleName(modulePath: string): string {
  const base = modulePath.slice(modulePath.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.(xz|gz|zst))?$/, '').replaceAll('-', '_');
}

export function parseModuleIndex(modulesDep: string, modulesBuiltin: string): ModuleIndex {
  const paths = new Map<string, string>();
  const dependencies = new Map<string, string[]>();
  for (const line of modulesDep.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const modulePath = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
    paths.set(moduleName(modulePath), modulePath);
    dependencies.set(modulePath, deps);
  }
  const builtin = new Set(modulesBuiltin.split('\n').filter(Boolean).map(moduleName));
  return { paths, dependencies, builtin };
}

/**
 * Paths of the modules needed to load `names`, every module after the modules it depends on.
 * Built-in modules are left out; an unknown module is an error naming it.
 */
export function moduleLoadOrder(index: ModuleIndex, names: readonly string[]): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (modulePath: string): void => {
    if (order.includes(modulePath)) return;
    if (visiting.has(modulePath)) throw new Error(`module dependency cycle through ${modulePath}`);
    visiting.add(modulePath);
    for (const dep of index.dependencies.get(modulePath) ?? []) visit(dep);
    visiting.delete(modulePath);
    order.push(modulePath);
  };
  for (const requested of names) {
    const name = requested.replaceAll('-', '_');
    if (index.builtin.has(name)) continue;
    const modulePath = index.paths.get(name);
    if (modulePath === undefined) throw new Error(`kernel module ${requested} is neither in modules.dep nor built in`);
    visit(modulePath);
  }
  return order;
}
