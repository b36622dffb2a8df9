"""Uploads are cut off at UPLOAD_MAX_BYTES as they arrive, before any of them reaches memory or disk.

Django keeps an upload in memory only when the whole request is small (FILE_UPLOAD_MAX_MEMORY_SIZE) and
otherwise writes it to a temporary file, whatever its size: a signed-in account could fill the disk
with one large file before the view sees its size. The only upload the app takes is a configuration
file (the console's Configuration file page); this handler, first in FILE_UPLOAD_HANDLERS, skips a
file past the limit and tells the view (`request.upload_too_large`, the file's name).
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class CappedUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.UPLOAD_MAX_BYTES:
            self.request.upload_too_large = self.file_name
            raise SkipFile  # the rest of this file is read and dropped, by every handler
        return raw_data  # on to the next handler, which keeps it

    def file_complete(self, file_size):
        return None  # the next handler makes the file
