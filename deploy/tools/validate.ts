/**
 * Validates rendered objects offline against the Kubernetes OpenAPI schemas and the KEDA and
 * Prometheus Operator CRD schemas, as compiled into the `kubernetes-models` packages from npm
 * (kubernetes-models 5.1 for the core API; @kubernetes-models/keda and
 * @kubernetes-models/prometheus-operator for the CRDs). Types, enums, formats and required
 * fields are checked; like the API server without strict field validation, unknown fields are
 * not (the manifests tests check the fields Volley relies on by name).
 */
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import {
  PodMonitor,
  PrometheusRule,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import type { K8sObject } from './render.ts';

interface Validating {
  validate(): void;
}

/**
 * The kinds the manifests use, by `apiVersion/kind`. A new kind needs its model here. The
 * object's shape is what validate() finds out, so it goes in unchecked (`as never` where the
 * model's constructor type is narrower than K8sObject).
 */
const MODELS: Record<string, (o: K8sObject) => Validating> = {
  'v1/ConfigMap': (o) => new ConfigMap(o),
  'v1/Namespace': (o) => new Namespace(o),
  'v1/Secret': (o) => new Secret(o),
  'v1/Service': (o) => new Service(o),
  'apps/v1/Deployment': (o) => new Deployment(o),
  'autoscaling/v2/HorizontalPodAutoscaler': (o) => new HorizontalPodAutoscaler(o as never),
  'networking.k8s.io/v1/NetworkPolicy': (o) => new NetworkPolicy(o),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o),
  'keda.sh/v1alpha1/ScaledObject': (o) => new ScaledObject(o as never),
  'monitoring.coreos.com/v1/PodMonitor': (o) => new PodMonitor(o as never),
  'monitoring.coreos.com/v1/PrometheusRule': (o) => new PrometheusRule(o as never),
};

/** What is wrong with `o` against its schema: nothing (an empty list) when it is valid. */
export function schemaErrors(o: K8sObject): string[] {
  const model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!model)
    return [
      `${o.apiVersion} ${o.kind}: no schema known here; add its model to deploy/tools/validate.ts`,
    ];
  try {
    model(o).validate();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}
