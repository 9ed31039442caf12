"""Customer-service assistant: knowledge base, intents, retrieval, customer card, answers.

Typical use (what ``storewise support load-kb`` and the API do)::

    from storewise.support import Assistant, build_card, load_kb

    assistant = load_kb("faq.md", "var/support")        # read, train, save (JSON + npz)
    assistant = Assistant.load("var/support")           # later, in another process
    card = build_card("C42", events, insights={"clv": 1800, "churn_risk": 0.7})
    suggestion = assistant.suggest("I want to return the lantern", card)
    suggestion.answers[0].text, suggestion.actions, suggestion.priority
"""

from storewise.support.assistant import (
    Action,
    Assistant,
    AssistantConfig,
    OrderMatch,
    Priority,
    SuggestedAnswer,
    Suggestion,
    classify_file,
    classify_messages,
    load_kb,
    resolve_order,
)
from storewise.support.context import (
    CustomerCard,
    CustomerProfile,
    OrderLine,
    OrderSummary,
    ReturnSummary,
    SuggestedItem,
    build_card,
)
from storewise.support.fill import ShopFacts, fill_placeholders, placeholders
from storewise.support.intents import (
    Classification,
    IntentConfig,
    IntentModel,
    IntentPrediction,
    IntentReport,
    evaluate_intents,
)
from storewise.support.kb import KBEntry, KnowledgeBase, read_kb
from storewise.support.retrieve import RetrievedAnswer, Retriever

__all__ = [
    "Action",
    "Assistant",
    "AssistantConfig",
    "Classification",
    "CustomerCard",
    "CustomerProfile",
    "IntentConfig",
    "IntentModel",
    "IntentPrediction",
    "IntentReport",
    "KBEntry",
    "KnowledgeBase",
    "OrderLine",
    "OrderMatch",
    "OrderSummary",
    "Priority",
    "RetrievedAnswer",
    "Retriever",
    "ReturnSummary",
    "ShopFacts",
    "SuggestedAnswer",
    "SuggestedItem",
    "Suggestion",
    "build_card",
    "classify_file",
    "classify_messages",
    "evaluate_intents",
    "fill_placeholders",
    "load_kb",
    "placeholders",
    "read_kb",
    "resolve_order",
]
