/** A kubeconfig with embedded credentials, laid out as kubeadm's kubeconfig phase writes it. */
import { toKubernetesYaml } from "@lvscare/contracts/yaml";

export interface KubeconfigContent {
  readonly clusterName: string;
  readonly server: string;
  readonly caCertificatePem: string;
  readonly userName: string;
  readonly clientCertificatePem: string;
  readonly clientKeyPem: string;
}

function base64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

export function renderKubeconfig(content: KubeconfigContent): string {
  const contextName = `${content.userName}@${content.clusterName}`;
  return toKubernetesYaml({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: content.clusterName,
        cluster: { "certificate-authority-data": base64(content.caCertificatePem), server: content.server },
      },
    ],
    contexts: [{ name: contextName, context: { cluster: content.clusterName, user: content.userName } }],
    "current-context": contextName,
    preferences: {},
    users: [
      {
        name: content.userName,
        user: {
          "client-certificate-data": base64(content.clientCertificatePem),
          "client-key-data": base64(content.clientKeyPem),
        },
      },
    ],
  });
}
