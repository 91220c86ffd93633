# Markdown rows for RESULTS.md from run.sh's JSON lines:
#   jq -r -f bench/durability/table.jq results.jsonl
def r(n): . * pow(10; n) | round / pow(10; n);
"| \(.scheme)\(if .scheme_from_policy then " (policy)" else "" end) | \(.threshold) | \(.expansion | r(2)) "
+ "| \(.params.mean_lifetime_days) d, \(.params.offline_per_day * 100 | r(1)) %/d "
+ "| \(.params.seed) | \(.params.grace_hours) h | \(.params.repair_mbps) "
+ "| \(.chunks_lost) | \(.lost_fraction) | \(.full_scale_lost_tb | r(2)) "
+ "| \(.repair_traffic_fraction | r(2)) | \(.worst_margin) (\(.worst_durable_margin)) | \(.peak_backlog_chunks) "
+ "| \(.remotes_departed) / \(.remotes_joined) | \(.outages) (\(.outages_past_grace)) | \(.wall_seconds | r(1)) |"
