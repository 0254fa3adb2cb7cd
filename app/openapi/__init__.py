"""The OpenAPI document, generated from the REST API's and the webhooks' marshmallow schemas."""
