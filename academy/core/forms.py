"""Form helpers shared by the features."""
from wtforms.fields.choices import SelectChoice


def choices(pairs) -> list[SelectChoice]:
    """Select options from (value, label) pairs; labels may be lazy translations."""
    return [SelectChoice(value, label) for value, label in pairs]
