//! The endpoint's `OpenAPI` 3.1 document, made from the package's manifest.

use serde_json::{Value as Json, json};

use pipewright_nodes::deploy::Manifest;

/// The `OpenAPI` document of an endpoint serving `manifest` at `score_path`; `secured` when it asks for a
/// bearer token.
pub(crate) fn document(manifest: &Manifest, secured: bool, score_path: &str) -> Json {
    let record = manifest.input_schema.clone();
    let prediction: serde_json::Map<String, Json> = manifest
        .outputs
        .iter()
        .map(|o| (o.name.clone(), json!({ "type": o.ty, "description": o.description })))
        .collect();
    let error = json!({
        "type": "object",
        "properties": {
            "error": { "type": "string", "description": "What is wrong and what to do" },
            "problems": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "record": { "type": "integer", "description": "The record, from 0" },
                        "field": { "type": "string" },
                        "message": { "type": "string" }
                    }
                }
            }
        },
        "required": ["error"]
    });
    let error_response = |description: &str| json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let example = manifest.example.clone().unwrap_or(Json::Null);
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": format!("{} — Pipewright scoring endpoint", manifest.name),
            "version": manifest.created,
            "description": format!(
                "Predictions of the model package \"{}\" ({}), made {} by Pipewright {}.",
                manifest.name, manifest.algorithm, manifest.created, manifest.pipewright_version
            ),
        },
        "paths": {
            "/score-path": {
                "post": {
                    "summary": "Score records",
                    "description": "One record (an object of field values), a list of records, or {\"records\": [...]}; or CSV with a header row. Fields the model does not use are ignored.",
                    "requestBody": {
                        "required": true,
                        "content": {
                            "application/json": {
                                "schema": { "oneOf": [
                                    { "$ref": "#/components/schemas/Record" },
                                    { "type": "array", "items": { "$ref": "#/components/schemas/Record" } },
                                    { "type": "object", "properties": { "records": { "type": "array", "items": { "$ref": "#/components/schemas/Record" } } }, "required": ["records"] }
                                ] },
                                "example": { "records": [example] }
                            },
                            "text/csv": { "schema": { "type": "string" } }
                        }
                    },
                    "responses": {
                        "200": {
                            "description": "One prediction per record, in order",
                            "content": { "application/json": { "schema": {
                                "type": "object",
                                "properties": {
                                    "model": { "type": "string" },
                                    "version": { "type": "integer", "description": "The registered version that answered" },
                                    "request_id": { "type": "string", "description": "The request's id: the X-Request-Id sent, or a new one" },
                                    "predictions": { "type": "array", "items": { "$ref": "#/components/schemas/Prediction" } }
                                }
                            } } }
                        },
                        "400": error_response("The body is not valid JSON or CSV"),
                        "401": error_response("The bearer token is missing or wrong"),
                        "413": error_response("The body is larger than the server's limit"),
                        "415": error_response("The body is neither JSON nor CSV"),
                        "422": error_response("Records do not fit the input fields; each problem names the record and the field"),
                        "500": error_response("The model failed on valid input")
                    }
                }
            },
            "/health": { "get": { "summary": "Whether the endpoint is up", "security": [], "responses": { "200": { "description": "Up" } } } },
            "/schema": { "get": { "summary": "The input fields (JSON Schema), the outputs, metrics and an example", "responses": { "200": { "description": "The schema" } } } },
            "/openapi.json": { "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI 3.1" } } } },
            "/metrics": { "get": { "summary": "Counters in the Prometheus text format", "responses": { "200": { "description": "Metrics", "content": { "text/plain": {} } } } } }
        },
        "components": {
            "schemas": {
                "Record": record,
                "Prediction": { "type": "object", "properties": prediction },
                "Error": error
            }
        }
    });
    if let Some(paths) = doc["paths"].as_object_mut()
        && let Some(score) = paths.remove("/score-path")
    {
        paths.insert(score_path.to_owned(), score);
    }
    if secured {
        doc["components"]["securitySchemes"] = json!({ "bearer": { "type": "http", "scheme": "bearer" } });
        doc["security"] = json!([{ "bearer": [] }]);
    }
    doc
}
