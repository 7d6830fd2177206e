"""Media: what a file is (``kinds``), where it is kept (``storage``, the only Cloud Storage code),
thumbnails and video posters (``thumbnails``), the inbound fetch (``fetch``) and what becomes of
uploads (``uploads``: copied to the message when sent, swept when never sent). Importing the
package opens nothing."""
