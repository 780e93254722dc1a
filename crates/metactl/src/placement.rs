//! `node-labels` and `failure-domains`: where data nodes sit in the failure-domain hierarchy that
//! placement and the planner spread every shard's owners over.

use meta_client::Client;
use meta_model::{DataNode, NodeId};

use crate::cli::{FailureDomainsAction, LabelAction};
use crate::table::Table;
use crate::{to_json, CtlError};

/// `node-labels NODE set K=V…` / `delete K…`.
pub(crate) async fn node_labels(
    client: &Client,
    node: NodeId,
    action: LabelAction,
    json: bool,
) -> Result<String, CtlError> {
    let updated = match action {
        LabelAction::Set { labels } => {
            let mut set = std::collections::BTreeMap::new();
            for (key, value) in labels {
                if set.insert(key.clone(), value).is_some() {
                    return Err(CtlError(format!("label {key} is given twice")));
                }
            }
            client.set_node_labels(node, set, Vec::new()).await?
        }
        LabelAction::Delete { keys } => client.set_node_labels(node, Default::default(), keys).await?,
    };
    if json {
        return to_json(&updated);
    }
    Ok(format!("Data node {} labels: {}\n", updated.id, labels_text(&updated)))
}

/// `failure-domains show` / `set LEVELS`.
pub(crate) async fn failure_domains(
    client: &Client,
    action: FailureDomainsAction,
    json: bool,
) -> Result<String, CtlError> {
    let placement = match action {
        FailureDomainsAction::Show => client.placement().await?,
        FailureDomainsAction::Set { levels } => {
            let levels = levels.split(',').map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
            client.set_failure_domains(levels).await?
        }
    };
    if json {
        return to_json(&placement);
    }
    let levels = &placement.failure_domains;
    let mut out = if levels.is_empty() {
        "Failure domains: none (owners are placed by load alone)\n".to_owned()
    } else {
        format!("Failure domains: {} (owners spread over every level, highest first)\n", levels.join(" > "))
    };
    let nodes: Vec<DataNode> = client.data_nodes().await?.into_iter().filter(DataNode::is_member).collect();
    if !levels.is_empty() && !nodes.is_empty() {
        let mut headers = vec!["ID", "TCP Address"];
        headers.extend(levels.iter().map(String::as_str));
        let mut table = Table::new("Data Nodes by Failure Domain", &headers);
        for node in &nodes {
            let mut row = vec![node.id.to_string(), node.tcp_addr.clone()];
            // A level the node lacks puts it in a domain of its own from there down.
            let domain = node.domain(levels);
            row.extend((0..levels.len()).map(|i| domain.get(i).cloned().unwrap_or_else(|| "-".to_owned())));
            table.row(row);
        }
        out.push('\n');
        out.push_str(&table.render());
    }
    Ok(out)
}

fn labels_text(node: &DataNode) -> String {
    if node.labels.is_empty() {
        return "(none)".to_owned();
    }
    node.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}
