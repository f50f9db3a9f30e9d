/**
 * Token discovery as kubeadm does it: fetch kube-public/cluster-info without verifying TLS,
 * check the detached JWS for the token, pin the CA found there against caCertHashes (SPKI
 * sha256, computed by openssl), fetch again verifying TLS with that CA and require the same
 * kubeconfig. An unknown token id is retried until the discovery timeout, as kubeadm waits for
 * the bootstrap signer.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parse } from "yaml";
import { detachedSignatureIsValid } from "../lib/jws.ts";
import { apiRequest, statusMessage } from "../lib/kube-client.ts";
import { spkiPin } from "../lib/openssl.ts";
import { kubeadmError, say } from "./output.ts";

const RETRY_INTERVAL_MS = 5000;

export interface DiscoveryInput {
  readonly apiServerEndpoint: string;
  readonly token: string;
  readonly caCertHashes: readonly string[];
  readonly unsafeSkipCAVerification: boolean;
  readonly timeoutMs: number;
}

export interface DiscoveredCluster {
  readonly kubeconfig: string;
  /** The cluster's server from cluster-info (kubeadm's controlPlaneEndpoint), not the discovery endpoint. */
  readonly server: string;
  readonly caPem: string;
}

function identityError(message: string) {
  return kubeadmError(`error execution phase preflight: couldn't validate the identity of the API Server: ${message}`);
}

async function clusterInfo(input: DiscoveryInput, caPem: string | undefined): Promise<Record<string, string>> {
  const [tokenId] = input.token.split(".");
  const deadline = Date.now() + input.timeoutMs;
  const interval = Math.min(RETRY_INTERVAL_MS, input.timeoutMs);
  let lastError = "";
  for (;;) {
    try {
      const response = await apiRequest(
        { server: `https://${input.apiServerEndpoint}`, caPem: caPem ?? "" },
        "GET",
        "/api/v1/namespaces/kube-public/configmaps/cluster-info",
        undefined,
        { insecure: caPem === undefined, timeoutMs: 10_000 },
      );
      if (response.status !== 200) {
        lastError = `failed to request the cluster-info ConfigMap: ${statusMessage(response)}`;
      } else {
        const data = ((response.body as { data?: Record<string, string> }).data ?? {}) as Record<string, string>;
        if (data[`jws-kubeconfig-${tokenId}`] !== undefined) return data;
        lastError = `could not find a JWS signature in the cluster-info ConfigMap for token ID "${tokenId}"`;
      }
    } catch (error) {
      lastError = `failed to request the cluster-info ConfigMap: Get "https://${input.apiServerEndpoint}/api/v1/namespaces/kube-public/configmaps/cluster-info": ${error instanceof Error ? error.message : String(error)}`;
    }
    if (Date.now() + interval > deadline) throw identityError(lastError);
    await sleep(interval);
  }
}

export async function discover(input: DiscoveryInput): Promise<DiscoveredCluster> {
  const [tokenId, tokenSecret] = input.token.split(".");
  say("discovery", `Created cluster-info discovery client, requesting info from "${input.apiServerEndpoint}"`);
  const insecure = await clusterInfo(input, undefined);
  const kubeconfig = insecure["kubeconfig"];
  if (kubeconfig === undefined || kubeconfig === "") {
    throw identityError("there is no kubeconfig key in the cluster-info ConfigMap. This API Server isn't set up for token bootstrapping, can't connect");
  }
  if (!detachedSignatureIsValid(insecure[`jws-kubeconfig-${tokenId}`] ?? "", kubeconfig, tokenId ?? "", tokenSecret ?? "")) {
    throw identityError("failed to verify JWS signature of received cluster info object, can't trust this API Server");
  }
  const parsed = parse(kubeconfig) as { clusters?: { cluster?: { server?: string; "certificate-authority-data"?: string } }[] };
  const clusters = parsed.clusters ?? [];
  if (clusters.length !== 1) throw identityError(`malformed kubeconfig in the cluster-info ConfigMap: expected a single cluster, got ${clusters.length}`);
  const server = clusters[0]?.cluster?.server ?? "";
  const caPem = Buffer.from(clusters[0]?.cluster?.["certificate-authority-data"] ?? "", "base64").toString();
  if (input.caCertHashes.length === 0 && input.unsafeSkipCAVerification) {
    say("discovery", `Cluster info signature and contents are valid and no TLS pinning was specified, will use API Server "${input.apiServerEndpoint}"`);
    return { kubeconfig, server, caPem };
  }
  const pin = spkiPin(caPem);
  if (!input.caCertHashes.includes(pin)) throw identityError(`cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "${pin}" are pinned`);
  say("discovery", `Requesting info from "${input.apiServerEndpoint}" again to validate TLS against the pinned public key`);
  const secure = await clusterInfo(input, caPem);
  if (secure["kubeconfig"] !== kubeconfig) throw identityError("the second kubeconfig from the cluster-info ConfigMap (using validated TLS) was different from the first");
  say("discovery", `Cluster info signature and contents are valid and TLS certificate validates against pinned roots, will use API Server "${input.apiServerEndpoint}"`);
  return { kubeconfig, server, caPem };
}
