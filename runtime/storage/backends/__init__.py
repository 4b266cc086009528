"""Where a project's shared state lives: local files, PostgreSQL or an S3 API, behind one interface."""
