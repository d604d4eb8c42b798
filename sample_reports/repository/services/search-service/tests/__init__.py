# search-service/tests/__init__.py: a stand-in (generate.py)
