# search-service/src/search_service/api/routes.py: a stand-in (generate.py)
