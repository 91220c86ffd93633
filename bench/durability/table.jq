# Markdown rows for RESULTS.md from run.sh's JSON lines:
#   jq -r -f bench/durability/table.jq results.jsonl                        (churn)
#   jq -r --arg table strangers -f bench/durability/table.jq results.jsonl  (liars, greedy joiners)
def r(n): . * pow(10; n) | round / pow(10; n);
def pct: . * 100 | r(1) | tostring + " %";
# An infinite lifetime (no departures) is null in JSON.
def life: if .params.mean_lifetime_days == null then "no churn" else "\(.params.mean_lifetime_days) d" end;
def churn:
  "| \(.scheme)\(if .scheme_from_policy then " (policy)" else "" end) | \(.threshold) | \(.expansion | r(2)) "
  + "| \(life), \(.params.offline_per_day * 100 | r(1)) %/d "
  + "| \(.params.seed) | \(.params.grace_hours) h | \(.params.repair_mbps) "
  + "| \(.chunks_lost) | \(.lost_fraction) | \(.full_scale_lost_tb | r(2)) "
  + "| \(.repair_traffic_fraction | r(2)) | \(.worst_margin) (\(.worst_durable_margin)) | \(.peak_backlog_chunks) "
  + "| \(.repairs_without_loss) / \(.shards_rebuilt_unavailable) "
  + "| \(.remotes_departed) / \(.remotes_joined) | \(.outages) (\(.outages_past_grace)) | \(.wall_seconds | r(1)) |";
def strangers:
  "| \(.scheme) | \(.threshold) "
  + "| \(life) "
  + "| \(.params.liars | pct) "
  + "| \(if .params.greedy_joiners == 0 then "–" else "\(.params.greedy_joiners | pct) × \(.params.claim_tb) TB, "
      + (if .params.no_cap then "no cap" elif .params.capacity_cap_tb != null then "cap \(.params.capacity_cap_tb) TB" else "capped" end)
      + (if .params.greedy_liars then ", lying" else "" end) end) "
  + "| \(.params.audits_per_hour) | \(.params.commit_at_threshold | pct) "
  + "| \(.chunks_lost) | \(.lost_fraction) | \(.repair_traffic_fraction | r(2)) "
  + "| \(.commit_durable_margin) / \(.worst_durable_margin) / \(.worst_margin) "
  + "| \(.liar_remotes) / \(.suspects) | \(.start_phantom_shards) / \(.shards_written_to_liars) / \(.shards_found_missing_on_read) "
  + "| \(.most_unvetted_after_repair) ≤ \(.max_unvetted) "
  + "| \(.greedy_joiners) | \(.greedy_share_of_rebuilt | pct) / \(.greedy_share_of_stored_at_end | pct) "
  + "| \(.wall_seconds | r(1)) |";
if ($ARGS.named.table // "churn") == "strangers" then strangers else churn end
