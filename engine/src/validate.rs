//! Validation: every problem of a workflow, each naming its node, plus the topological order and the
//! schemas propagated along the wires.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::catalog::Catalog;
use crate::params::Params;
use crate::schema::Schema;
use crate::spec::{NodeSpec, ParamKind};
use crate::workflow::{PortRef, Workflow};

/// One problem in a workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The node it belongs to, if any.
    pub node: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.node {
            Some(node) => write!(f, "node \"{node}\": {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

/// The outcome of validating a workflow.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Every problem found, in node order.
    pub problems: Vec<Problem>,
    /// Node indices in an order where every node comes after its inputs (nodes on a cycle are left out).
    pub order: Vec<usize>,
    /// Resolved parameters by node index (empty for unknown kinds).
    pub params: Vec<Params>,
    /// Schemas known before running, by output port.
    pub schemas: HashMap<PortRef, Schema>,
}

impl Analysis {
    /// Problems of the given nodes and of the workflow as a whole.
    pub fn problems_of(&self, nodes: &HashSet<String>) -> Vec<Problem> {
        self.problems.iter().filter(|p| p.node.as_ref().is_none_or(|n| nodes.contains(n))).cloned().collect()
    }

    /// The input schema of a node's input port, when known.
    pub fn input_schema(&self, workflow: &Workflow, node: &str, port: &str) -> Option<&Schema> {
        workflow.edge_into(node, port).and_then(|e| self.schemas.get(&e.from))
    }
}

/// Validates a workflow against a catalog, without looking at files.
pub fn validate(workflow: &Workflow, catalog: &Catalog) -> Analysis {
    validate_in(workflow, catalog, None)
}

/// Validates a workflow whose relative paths resolve against `base_dir`, so that blocks reading
/// files can state their output schemas.
#[allow(clippy::too_many_lines, reason = "one pass per kind of check, in the order a reader expects them")]
pub fn validate_in(workflow: &Workflow, catalog: &Catalog, base_dir: Option<&std::path::Path>) -> Analysis {
    let mut problems = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, node) in workflow.nodes.iter().enumerate() {
        if node.id.is_empty() {
            problems
                .push(Problem { node: None, message: format!("node number {} has an empty id: give it one", i + 1) });
        }
        if index.insert(node.id.as_str(), i).is_some() {
            push(&mut problems, &node.id, "two nodes share this id: give each node its own id".into());
        }
    }
    let specs: Vec<Option<&NodeSpec>> =
        workflow.nodes.iter().map(|n| catalog.get(&n.kind).map(|e| e.spec.as_ref())).collect();
    let mut params = Vec::with_capacity(workflow.nodes.len());
    for (node, spec) in workflow.nodes.iter().zip(&specs) {
        let Some(spec) = spec else {
            push(
                &mut problems,
                &node.id,
                format!(
                    "unknown kind \"{}\": this Pipewright has no such block (its parameters are kept; replace or remove the node)",
                    node.kind
                ),
            );
            params.push(Params::default());
            continue;
        };
        let (resolved, param_problems) = Params::resolve(spec, node, workflow.seed);
        for p in param_problems {
            push(&mut problems, &node.id, format!("parameter \"{}\": {}", p.param, p.message));
        }
        params.push(resolved);
    }

    // Wires.
    let mut incoming: HashMap<&PortRef, usize> = HashMap::new();
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); workflow.nodes.len()];
    let mut indegree = vec![0usize; workflow.nodes.len()];
    for edge in &workflow.edges {
        let from = index.get(edge.from.node.as_str()).copied();
        let to = index.get(edge.to.node.as_str()).copied();
        let Some(to) = to else {
            let owner = if from.is_some() { edge.from.node.as_str() } else { "" };
            let message = format!("wire {} → {}: there is no node \"{}\"", edge.from, edge.to, edge.to.node);
            if owner.is_empty() {
                problems.push(Problem { node: None, message });
            } else {
                push(&mut problems, owner, message);
            }
            continue;
        };
        let Some(from) = from else {
            push(
                &mut problems,
                &edge.to.node,
                format!("input \"{}\" is wired from node \"{}\", which does not exist", edge.to.port, edge.from.node),
            );
            continue;
        };
        let from_port = specs[from].map(|s| s.output_port(&edge.from.port));
        let to_port = specs[to].map(|s| s.input_port(&edge.to.port));
        if let Some(None) = to_port {
            push(
                &mut problems,
                &edge.to.node,
                format!("has no input port \"{}\" (wire from {})", edge.to.port, edge.from),
            );
        }
        if let Some(None) = from_port {
            push(
                &mut problems,
                &edge.from.node,
                format!("has no output port \"{}\" (wire to {})", edge.from.port, edge.to),
            );
        }
        if let (Some(Some((_, out))), Some(Some((_, inp)))) = (from_port, to_port)
            && out.ty != inp.ty
        {
            push(
                &mut problems,
                &edge.to.node,
                format!(
                    "wrong port type: input \"{}\" takes a {} but is wired from {} which gives a {}",
                    inp.name,
                    inp.ty.label(),
                    edge.from,
                    out.ty.label()
                ),
            );
        }
        if incoming.insert(&edge.to, from).is_some() {
            push(&mut problems, &edge.to.node, format!("input \"{}\" has more than one wire: keep one", edge.to.port));
        }
        successors[from].push(to);
        indegree[to] += 1;
    }
    for (node, spec) in workflow.nodes.iter().zip(&specs) {
        let Some(spec) = spec else { continue };
        for port in spec.inputs.iter().filter(|p| p.required) {
            if !incoming.contains_key(&PortRef::new(node.id.clone(), port.name)) {
                push(
                    &mut problems,
                    &node.id,
                    format!(
                        "missing required input \"{}\" ({}): wire a {} into it",
                        port.name,
                        port.tooltip,
                        port.ty.label()
                    ),
                );
            }
        }
    }

    // Topological order (Kahn); whatever is left sits on or behind a cycle.
    let mut order = Vec::with_capacity(workflow.nodes.len());
    let mut ready: Vec<usize> = (0..workflow.nodes.len()).filter(|&i| indegree[i] == 0).rev().collect();
    let mut remaining = indegree.clone();
    while let Some(i) = ready.pop() {
        order.push(i);
        for &j in successors[i].iter().rev() {
            remaining[j] -= 1;
            if remaining[j] == 0 {
                ready.push(j);
            }
        }
    }
    if order.len() < workflow.nodes.len() {
        let placed: HashSet<usize> = order.iter().copied().collect();
        if let Some(cycle) = find_cycle(&successors, &placed) {
            let names: Vec<&str> = cycle.iter().map(|&i| workflow.nodes[i].id.as_str()).collect();
            let path = format!("{} → {}", names.join(" → "), names[0]);
            for &i in &cycle {
                push(
                    &mut problems,
                    &workflow.nodes[i].id,
                    format!("is part of a cycle ({path}): remove one of these wires"),
                );
            }
        }
    }

    // Schema propagation and column checks. The wire into each input port (the first, where there are several)
    // is looked up by port rather than searched for, so large workflows validate in linear time.
    let mut wired: HashMap<(&str, &str), &PortRef> = HashMap::with_capacity(workflow.edges.len());
    for edge in &workflow.edges {
        wired.entry((edge.to.node.as_str(), edge.to.port.as_str())).or_insert(&edge.from);
    }
    let mut schemas: HashMap<PortRef, Schema> = HashMap::new();
    for &i in &order {
        let (node, Some(spec)) = (&workflow.nodes[i], specs[i]) else { continue };
        let inputs: Vec<Option<Schema>> = spec
            .inputs
            .iter()
            .map(|p| wired.get(&(node.id.as_str(), p.name)).and_then(|from| schemas.get(*from)).cloned())
            .collect();
        for p in &spec.params {
            let (ParamKind::Column { port } | ParamKind::ColumnList { port }) = p.kind else { continue };
            let Some(Some(schema)) = spec.input_port(port).map(|(k, _)| &inputs[k]) else { continue };
            let value = params[i].get(p.name);
            let names: Vec<&str> = match value {
                serde_json::Value::String(s) if !s.is_empty() => vec![s.as_str()],
                serde_json::Value::Array(a) => a.iter().filter_map(serde_json::Value::as_str).collect(),
                _ => Vec::new(),
            };
            for name in names {
                if schema.column(name).is_none() {
                    push(
                        &mut problems,
                        &node.id,
                        if schema.columns.is_empty() {
                            format!(
                                "parameter \"{}\": column \"{name}\" is not in input \"{port}\", which has no columns",
                                p.name
                            )
                        } else {
                            format!(
                                "parameter \"{}\": column \"{name}\" is not in input \"{port}\" (it has: {})",
                                p.name,
                                schema.names().join(", ")
                            )
                        },
                    );
                }
            }
        }
        let kind = catalog.get(&node.kind).map(|e| e.kind.clone());
        if let Some(kind) = kind {
            for (port, schema) in spec.outputs.iter().zip(kind.output_schemas(
                &inputs,
                &params[i],
                &crate::catalog::SchemaEnv { base_dir },
            )) {
                if let Some(schema) = schema {
                    schemas.insert(PortRef::new(node.id.clone(), port.name), schema);
                }
            }
        }
    }

    // Files written where they must not be: the project store, a workflow, an input of this workflow.
    if let Some(base_dir) = base_dir {
        crate::write_targets::check(workflow, &specs, &params, base_dir, &mut problems);
    }

    // Report in node order.
    let position: BTreeMap<&str, usize> = workflow.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
    problems.sort_by_key(|p| p.node.as_deref().and_then(|n| position.get(n).copied()).unwrap_or(usize::MAX));
    Analysis { problems, order, params, schemas }
}

fn visit(
    i: usize,
    successors: &[Vec<usize>],
    placed: &HashSet<usize>,
    state: &mut [u8],
    stack: &mut Vec<usize>,
) -> Option<Vec<usize>> {
    state[i] = 1;
    stack.push(i);
    for &j in &successors[i] {
        if placed.contains(&j) {
            continue;
        }
        if state[j] == 1 {
            let start = stack.iter().position(|&k| k == j).unwrap_or(0);
            return Some(stack[start..].to_vec());
        }
        if state[j] == 0
            && let Some(cycle) = visit(j, successors, placed, state, stack)
        {
            return Some(cycle);
        }
    }
    stack.pop();
    state[i] = 2;
    None
}

/// A cycle among the nodes not yet placed, as node indices in wire order.
fn find_cycle(successors: &[Vec<usize>], placed: &HashSet<usize>) -> Option<Vec<usize>> {
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; successors.len()];
    let mut stack: Vec<usize> = Vec::new();
    (0..successors.len())
        .filter(|i| !placed.contains(i))
        .find_map(|i| if state[i] == 0 { visit(i, successors, placed, &mut state, &mut stack) } else { None })
}

fn push(problems: &mut Vec<Problem>, node: &str, message: String) {
    problems.push(Problem { node: Some(node.to_owned()), message });
}
