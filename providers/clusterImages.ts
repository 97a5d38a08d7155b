// The project's images in the project's own cluster, as a Node.js dynamic
// resource: built from python-apps/Dockerfile and imported into the cluster's
// container runtime (no registry) by scripts/cluster.sh, again whenever what
// they are built from changes. A new cluster keeps the images the last one had.
import { execFile } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import { DRIVER_IMAGE_NAMES, IMAGE_NAMES, KubeImages } from "../lib/kubernetesSettings";

export interface ClusterImagesInputs {
    /** scripts/cluster.sh. */
    script: string;
    /** Hash of what the images are built from (python-apps/, the base image's and oha's recipes). */
    code: string;
    /** The load drivers' images to build too (oha); []: none. */
    drivers: (typeof DRIVER_IMAGE_NAMES)[number][];
}

/** `name=ref` lines -> the images; throws naming what is missing of the project's and `drivers`' images. */
export function parseImageLines(text: string, drivers: ClusterImagesInputs["drivers"] = []): KubeImages {
    const images: KubeImages = {};
    const names: readonly string[] = [...IMAGE_NAMES, ...DRIVER_IMAGE_NAMES];
    for (const line of text.split("\n")) {
        const m = /^(\w+)=(\S+)$/.exec(line.trim());
        if (m && names.includes(m[1])) images[m[1] as keyof KubeImages] = m[2];
    }
    const missing = [...IMAGE_NAMES, ...drivers].filter((n) => !images[n]);
    if (missing.length) throw new Error(`cluster.sh images named no image for ${missing.join(", ")}:\n${text.slice(-1000)}`);
    return images;
}

function load(inputs: ClusterImagesInputs): Promise<KubeImages> {
    return new Promise((resolve, reject) => {
        // Cold, the base image and three app images are built first: minutes, bounded here.
        execFile(inputs.script, ["images", ...(inputs.drivers ?? [])], { maxBuffer: 16 * 2 ** 20, timeout: 40 * 60_000 }, (error, stdout, stderr) => {
            if (error) return reject(new Error(`${inputs.script} images failed: ${error.message}\n${stderr.slice(-3000)}`));
            try {
                resolve(parseImageLines(stdout, inputs.drivers ?? []));
            } catch (e) {
                reject(e);
            }
        });
    });
}

const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: ClusterImagesInputs) {
        const images = await load(inputs);
        return { id: `images-${inputs.code}`, outs: { ...inputs, images } };
    },
    async diff(_id: string, olds: ClusterImagesInputs, news: ClusterImagesInputs) {
        return { changes: olds.code !== news.code || olds.script !== news.script || String(olds.drivers ?? []) !== String(news.drivers ?? []) };
    },
    async update(_id: string, _olds: ClusterImagesInputs, news: ClusterImagesInputs) {
        return { outs: { ...news, images: await load(news) } };
    },
    async delete() {
        // The images stay in the cluster's runtime for the next stack; `./lab cluster down` removes the cluster.
    },
};

/** The project's images, loaded into its cluster; `images` names them. */
export class ClusterImages extends pulumi.dynamic.Resource {
    declare readonly images: pulumi.Output<KubeImages>;

    constructor(name: string, args: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
        super(provider, name, { ...args, images: undefined }, opts, "kubernetes", "ClusterImages");
    }
}
