"""JSON Schemas of what the gateway takes and answers, built from the champion's input schema (its signature).

A field's schema is exactly what inference/features.check_record accepts: a caller reading /docs, or a fuzzer
generating from it, sends what is served, and anything it answers is declared.
"""

from __future__ import annotations

from infra.models import LoadedModel

REF = "#/components/schemas/"
FLOAT_MAX = 1.7976931348623157e308
TYPES = {
    "double": {"type": "number", "format": "double", "minimum": -FLOAT_MAX, "maximum": FLOAT_MAX},
    "float": {"type": "number", "format": "float", "minimum": -FLOAT_MAX, "maximum": FLOAT_MAX},
    "long": {"type": "integer", "format": "int64", "minimum": -(2**63), "maximum": 2**63 - 1},
    "integer": {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1},
    "boolean": {"type": "boolean"},
    "string": {"type": "string"},
}


def ref(name: str) -> dict:
    return {"$ref": REF + name}


def obj(properties: dict, required: list[str] | None = None, **extra) -> dict:
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required, **extra}


def class_schema(model: LoadedModel | None) -> dict:
    if model is None or not model.classes:
        return {"description": "One of the model's classes."}
    return {"enum": [c.item() if hasattr(c, "item") else c for c in model.classes], "description": "The class."}


def features(model: LoadedModel | None, open_: bool = False) -> dict:
    """One record: every feature of the champion, by the data's own column name, with its type."""
    if model is None:
        return {"type": "object", "description": "Feature name to value: the champion's input schema (no champion "
                                                 "is loaded yet; this document follows it once one is)."}
    schema = obj({name: dict(TYPES.get(kind, {})) for name, kind in model.feature_types.items()},
                 additionalProperties=open_,
                 description=f"The input schema of {model.name} version {model.version}: every feature, by its "
                             "name in the training data." + (" Other columns are ignored, as MLflow does." if open_
                                                            else ""))
    if model.example:
        schema["example"] = model.example
    return schema


def probabilities(model: LoadedModel | None) -> dict:
    names = [str(c) for c in (model.classes if model else [])]
    if not names:
        return {"type": "object", "additionalProperties": {"type": "number"}}
    return obj({name: {"type": "number"} for name in names}, additionalProperties=False,
               description="Probability of each class (the keys are the classes as text).")


def prediction_schemas(model: LoadedModel | None, max_records: int) -> dict:
    """Schemas of /predict's bodies and answers, and the error shapes."""
    answer = obj({"request_id": {"type": "string"}, "predicted_class": class_schema(model),
                  "probabilities": ref("Probabilities")})
    return {
        "Features": features(model),
        "FeaturesOpen": features(model, open_=True),
        "Probabilities": probabilities(model),
        "PredictOne": obj({"features": ref("Features"), "request_id": {
                              "type": ["string", "null"], "minLength": 1,
                              "description": "Your id; labels join on it (none or null: the event's id)."}},
                          ["features"], additionalProperties=False, title="One record"),
        "PredictBatch": obj({"records": {"type": "array", "minItems": 1, "maxItems": max_records,
                                         "items": ref("Features")},
                             "request_ids": {"type": ["array", "null"], "items": {"type": ["string", "null"],
                                                                                   "minLength": 1},
                                             "description": "Your ids, one per record (the same count); null: "
                                                            "the event's id."}},
                            ["records"], additionalProperties=False, title="A batch"),
        "Prediction": obj({**answer["properties"], "model": {"type": "string"}, "model_version": {"type": "string"}},
                          additionalProperties=False),
        "Predictions": obj({"model": {"type": "string"}, "model_version": {"type": "string"},
                            "predictions": {"type": "array", "items": {**answer, "additionalProperties": False}}},
                           additionalProperties=False),
        "Detail": obj({"detail": {"type": "string"}}),
        "FieldErrors": obj({"detail": {"type": "array", "items": ref("FieldError")}, "message": {"type": "string"}}),
        "FieldError": obj({"loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                           "msg": {"type": "string"}, "type": {"type": "string"}},
                          description="One wrong field: where (loc), what (msg) and a machine-readable kind."),
    }


def mlflow_schemas(model: LoadedModel | None, max_records: int) -> dict:
    """MLflow's scoring protocol: the four JSON input formats, the answer, the error."""
    rows = {"type": "array", "minItems": 1, "maxItems": max_records, "items": ref("FeaturesOpen")}
    columns = {"type": "object", "description": "Column name to a list of values (equally long lists).",
               "additionalProperties": {"type": "array"}}
    params = obj({"request_ids": {"type": ["array", "null"], "items": {"type": "string", "minLength": 1},
                                  "description": "Ids for label joins, one per row (null: minted)."}}, [],
                 description="MLflow's inference params; request_ids is the only one read.")
    split = obj({"columns": {"type": "array", "items": {"type": "string"}},
                 "data": {"type": "array", "minItems": 1, "maxItems": max_records, "items": {"type": "array"}},
                 "index": {"type": "array"}}, ["columns", "data"])
    if model and model.example:
        split["example"] = {"columns": list(model.example), "data": [list(model.example.values())]}
    formats = {"dataframe_split": split, "dataframe_records": rows,
               "instances": {"oneOf": [rows, columns]}, "inputs": {"oneOf": [rows, columns]}}
    predicted = ({"type": "array", "items": {"type": "number"}} if model and model.predict_fn == "predict_proba"
                 else class_schema(model))
    return {
        "InvocationsRequest": {"oneOf": [obj({key: schema, "params": params}, [key], title=key)
                                         for key, schema in formats.items()],
                               "description": "Exactly one of MLflow's four input formats."},
        "InvocationsResponse": obj({"predictions": {"type": "array", "items": predicted}}),
        "MlflowError": obj({"error_code": {"type": "string"}, "message": {"type": "string"},
                            "detail": {"type": "array", "items": ref("FieldError")}}, ["error_code", "message"]),
    }
