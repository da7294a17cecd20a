import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The alert metrics, with stable names; labels are small fixed sets (the alert type and the
 * change), never an agent or a tenant. Registered on the registry the receiver serves on /metrics.
 */
export function registerAlertMetrics(registry: Registry) {
  const registers = [registry];
  return {
    changes: new Counter({
      name: 'machpay_alert_changes_total',
      help: 'Alert state changes this receiver committed, by alert type and change (fired, resolved).',
      labelNames: ['type', 'change'] as const,
      registers,
    }),
    evaluations: new Counter({
      name: 'machpay_alert_agent_evaluations_total',
      help: 'Agents whose alert rules were evaluated, by outcome (ok, failed: retried in a later round).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    roundDuration: new Histogram({
      name: 'machpay_alert_round_duration_seconds',
      help: 'Time one evaluation round took, from taking its agents to the last commit.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    pendingAgents: new Gauge({
      name: 'machpay_alert_pending_agents',
      help: 'Agents waiting for an evaluation round (touched after a commit or named by the sweep).',
      registers,
    }),
    droppedTouches: new Counter({
      name: 'machpay_alert_touches_dropped_total',
      help: 'Touches refused because the set of pending agents was full; a pass over every linked agent covers them.',
      registers,
    }),
    fullPasses: new Counter({
      name: 'machpay_alert_full_passes_total',
      help: 'Passes over every linked agent, started when the pending set overflowed or a sweep query hit its limit.',
      registers,
    }),
  };
}

export type AlertMetrics = ReturnType<typeof registerAlertMetrics>;
