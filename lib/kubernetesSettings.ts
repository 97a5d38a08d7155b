// The Kubernetes platform's settings as values: CPU quantities per role and the
// images the pods run. Apart from lib/kubernetes.ts, so that lib/settings.ts can
// parse them without importing the manifests (and what those import).
import { CPU_ROLES, CpuRole } from "./load/cpu";

/** CPU per role, as Kubernetes quantities ("500m", "1"). */
export type CpuQuantities = Partial<Record<CpuRole, string>>;

/** The images the project's pods run: the Python apps' and the base (nginx, PostgreSQL, ab). */
export const IMAGE_NAMES = ["base", "slow_api", "flask_app", "database_app"] as const;
/** The images only some loads run: oha's (the base with oha), for loadDriver oha. */
export const DRIVER_IMAGE_NAMES = ["oha"] as const;
export type ImageName = (typeof IMAGE_NAMES)[number] | (typeof DRIVER_IMAGE_NAMES)[number];
export type KubeImages = Partial<Record<ImageName, string>>;

const QUANTITY = /^(\d+(\.\d+)?|\.\d+)m?$/;

/** Cores a CPU quantity stands for: "500m" -> 0.5, "2" -> 2. */
export function cpuCores(quantity: string): number {
    return quantity.endsWith("m") ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
}

/** Parses "app=500m driver=1" (roles: CPU_ROLES); "" sets nothing. */
export function parseCpuQuantities(text: string): CpuQuantities {
    const out: CpuQuantities = {};
    for (const [role, value] of pairs(text, CPU_ROLES)) {
        if (!QUANTITY.test(value) || Number(value.replace(/m$/, "")) <= 0) {
            throw new Error(`"${role}=${value}": ${value} is not a CPU quantity such as 500m or 1`);
        }
        out[role] = value;
    }
    return out;
}

/** Parses "base=<ref> slow_api=<ref> flask_app=<ref> database_app=<ref> [oha=<ref>]"; "" for none, else all but oha's. */
export function parseKubeImages(text: string): KubeImages {
    const out: KubeImages = Object.fromEntries(pairs(text, [...IMAGE_NAMES, ...DRIVER_IMAGE_NAMES]));
    const missing = IMAGE_NAMES.filter((n) => !out[n]);
    if (Object.keys(out).length && missing.length) throw new Error(`no image for ${missing.join(", ")}`);
    return out;
}

function pairs<K extends string>(text: string, keys: readonly K[]): [K, string][] {
    const seen = new Set<string>();
    return text.trim().split(/\s+/).filter(Boolean).map((entry) => {
        const [key, value, extra] = entry.split("=");
        if (!(keys as readonly string[]).includes(key) || !value || extra !== undefined) {
            throw new Error(`"${entry}" is not name=value with a name among ${keys.join(", ")}`);
        }
        if (seen.has(key)) throw new Error(`${key} is given twice`);
        seen.add(key);
        return [key as K, value];
    });
}
