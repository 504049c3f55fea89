"""The model catalog web app, mounted in Airflow's api-server by ``airflow_glue.catalog_plugin``."""
