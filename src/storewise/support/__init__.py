"""Customer-service assistant: knowledge base, intents, retrieval, customer card, answers.

Typical use (what ``storewise support load-kb`` and the API do)::

    from storewise.support import Assistant, build_card, load_kb

    assistant = load_kb("faq.md", "var/support")        # read, train, save (JSON + npz)
    assistant = Assistant.load("var/support")           # later, in another process
    card = build_card("C42", events, insights={"clv": 1800, "churn_risk": 0.7})
    suggestion = assistant.suggest("I want to return the lantern", card)
    suggestion.answers[0].text, suggestion.actions, suggestion.priority
    suggestion.matched_order, suggestion.matched_items, suggestion.match, suggestion.handoff
"""

from storewise.support.assistant import (
    Action,
    Assistant,
    AssistantConfig,
    Handoff,
    Priority,
    SuggestedAnswer,
    Suggestion,
    classify_file,
    classify_messages,
    is_double_charge,
    load_kb,
    with_out_of_scope,
)
from storewise.support.context import (
    CustomerCard,
    CustomerProfile,
    Fulfilment,
    OrderLine,
    OrderStatus,
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
from storewise.support.orders import OrderMatch, resolve_order, status_text
from storewise.support.retrieve import RetrievedAnswer, Retriever

__all__ = [
    "Action",
    "Assistant",
    "AssistantConfig",
    "Classification",
    "CustomerCard",
    "CustomerProfile",
    "Fulfilment",
    "Handoff",
    "IntentConfig",
    "IntentModel",
    "IntentPrediction",
    "IntentReport",
    "KBEntry",
    "KnowledgeBase",
    "OrderLine",
    "OrderMatch",
    "OrderStatus",
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
    "is_double_charge",
    "load_kb",
    "placeholders",
    "read_kb",
    "resolve_order",
    "status_text",
    "with_out_of_scope",
]
