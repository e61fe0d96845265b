// Writes k8s/components/monitoring/prometheusrule.yaml from ordersink-rules.yaml (the one source
// of the alert rules). Run after editing the rules: node tests/deploy/gen-prometheusrule.mjs
import fs from "node:fs";
import path from "node:path";
import { MONITORING, prometheusRuleText } from "./lib.mjs";

const rules = fs.readFileSync(path.join(MONITORING, "ordersink-rules.yaml"), "utf8");
fs.writeFileSync(path.join(MONITORING, "prometheusrule.yaml"), prometheusRuleText(rules));
console.log("wrote k8s/components/monitoring/prometheusrule.yaml");
