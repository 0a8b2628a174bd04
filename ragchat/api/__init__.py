"""The HTTP API: ``create_app()`` + lifespan, dependencies, schemas and one router module per resource."""
