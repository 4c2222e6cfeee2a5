"""Data catalogs (model cards, platforms): pydantic models over YAML files. No torch imports."""
