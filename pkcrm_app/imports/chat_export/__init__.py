"""WhatsApp "Export chat" files (.txt, .zip with media), Android and iOS, every locale we could find.

Pure: no database. `ExportFile(path).scan()` checks a file and learns its format in one streaming pass;
`ExportFile.messages(fmt)` streams its messages. ExportFormatError is the only error either raises.
"""

from pkcrm_app.imports.chat_export.formats import DateOrder, ExportFormat, ExportFormatError, detect
from pkcrm_app.imports.chat_export.parser import ChatMessage, Kind, parse
from pkcrm_app.imports.chat_export.source import ExportFile, chat_title, parse_text, phone_digits

__all__ = ["ChatMessage", "DateOrder", "ExportFile", "ExportFormat", "ExportFormatError", "Kind", "chat_title",
           "detect", "parse", "parse_text", "phone_digits"]
