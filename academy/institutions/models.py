"""What the institution pages keep of their own: uploaded enrolment files between preview and import."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from academy.core.models import TimestampMixin
from academy.extensions import Model


class BulkImport(TimestampMixin, Model):
    """An uploaded enrolment file: its parsed rows wait here between the preview and the import."""

    __tablename__ = "bulk_import"

    PREVIEW = "preview"
    IMPORTED = "imported"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="CASCADE"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    rows: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=PREVIEW)
    imported_at: Mapped[datetime | None]
    result: Mapped[dict | None] = mapped_column(JSON)
