"""The database: engine, tables, the calls repository, the journal that stores call events, migrations."""
