"""The order workflow up to v7 (type `SalesOrderWorkflow`), kept while such orders drain."""
