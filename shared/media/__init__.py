"""Media: what a file is (``kinds``), where it is kept (``storage``, the only Cloud Storage code),
thumbnails (``thumbnails``) and the inbound fetch (``fetch``). Importing the package opens nothing."""
