/** Topology YAML text for tests that load topologies the way users write them. */

/** A Deployment document (`---` first) of `replicas` nginx pods labelled `app: NAME`, port 80; `extra` goes into the pod spec. */
export function deploymentYaml(name: string, replicas: number, extra = ""): string {
  return `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
${extra}      containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]
`;
}
